{#
  The merge_with_deletes incremental strategy (dbt-trino's `incremental` materialization, on S3): one
  MERGE INTO the model, keyed on its unique_key, that updates the rows the run recomputed, inserts the
  new ones, and deletes those whose recomputed row matches the model's `delete_when` (a condition on
  the source row, aliased s). dbt-trino's own `merge` strategy updates and inserts only, so a key the
  recount found empty (a minute whose only order was cancelled) would stay. One MERGE is one Delta
  commit: a reader sees the table before it or after it, never in between.
#}
{% macro get_incremental_merge_with_deletes_sql(arg_dict) %}
  {%- set target, source = arg_dict['target_relation'], arg_dict['temp_relation'] -%}
  {%- set key = arg_dict['unique_key'] -%}
  {%- set delete_when = config.require('delete_when') -%}
  {%- set columns = arg_dict['dest_columns'] | map(attribute='name') | list -%}
  merge into {{ target }} as t
  using {{ source }} as s
  on t.{{ key }} = s.{{ key }}
  when matched and ({{ delete_when }}) then delete
  when matched then update set
    {%- for column in columns if column != key %}
    {{ column }} = s.{{ column }}{{ "," if not loop.last }}
    {%- endfor %}
  when not matched and not ({{ delete_when }}) then insert ({{ columns | join(', ') }})
  values ({% for column in columns %}s.{{ column }}{{ ", " if not loop.last }}{% endfor %})
{% endmacro %}


{#- True when this run MERGEs what it recomputed into the model's previous table (on S3), rather than
    writing the whole result (copy-on-write): the model then returns only the rows to change. -#}
{% macro merges() %}
  {{ return(config.get('materialized') == 'incremental' and carries_over()) }}
{% endmacro %}
