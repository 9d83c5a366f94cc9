{#
  The copy_on_write materialization: each run writes the model's whole result with CREATE TABLE AS
  into a new table and swaps it in (rename, drop). The model decides what is incremental: when
  carries_over(), it reads its previous rows from {{ this }}, keeps those nothing changed and
  recomputes the rest. It is its own materialization, not dbt's `incremental` replaced, so a
  reader of the model sees what it does; it has no unique_key or incremental_strategy.

  Why not dbt-trino's merge: Trino 476's Delta Lake connector has no transaction-log
  synchronizer for the local file system, so INSERT, MERGE and DELETE on `local://` tables
  fail ("Writes are not enabled on the local filesystem"); CREATE TABLE AS, RENAME and DROP
  work. Gold is one row per minute, so rewriting it is cheap.

  A run killed part-way leaves at worst a staged or a backup table: the next run drops the staged one
  and, when the model itself is missing (killed between the two renames), renames the backup back
  before anything else. The model is then missing from the kill until the next run starts.
#}
{% materialization copy_on_write, adapter='trino' %}
  {%- set target_relation = this.incorporate(type='table') -%}
  {%- set existing_relation = load_cached_relation(this) -%}
  {%- set staged_relation = make_intermediate_relation(target_relation, suffix='__dbt_new') -%}
  {%- set backup_relation = make_backup_relation(target_relation, 'table', suffix='__dbt_old') -%}

  {#- A run killed between the swap's two renames left the model missing and its previous version
      under the backup name: put that back first, so readers have the table again at once. #}
  {%- if existing_relation is none -%}
    {%- set left_behind = adapter.get_relation(database=backup_relation.database, schema=backup_relation.schema,
                                               identifier=backup_relation.identifier) -%}
    {%- if left_behind is not none -%}
      {{ log("healing " ~ target_relation ~ ": missing, with its previous version left as " ~ left_behind
             ~ " by a run killed mid-swap; renamed back", info=True) }}
      {{ adapter.rename_relation(left_behind, target_relation) }}
      {%- set existing_relation = target_relation -%}
    {%- endif -%}
  {%- endif -%}

  {{ drop_relation_if_exists(staged_relation) }}
  {{ drop_relation_if_exists(backup_relation) }}
  {{ run_hooks(pre_hooks) }}

  {% call statement('main') -%}
    {{ create_table_as(False, staged_relation, sql) }}
  {%- endcall %}

  {% if existing_relation is not none %}
    {{ adapter.rename_relation(existing_relation, backup_relation) }}
  {% endif %}
  {{ adapter.rename_relation(staged_relation, target_relation) }}
  {{ drop_relation_if_exists(backup_relation) }}

  {{ run_hooks(post_hooks) }}
  {% do persist_docs(target_relation, model) %}
  {{ return({'relations': [target_relation]}) }}
{% endmaterialization %}


{#- True when this run builds on the model's previous table: it exists as a table and the run is not a
    --full-refresh (dbt's is_incremental() is true only for the `incremental` materialization). -#}
{% macro carries_over() %}
  {%- if not execute -%}
    {{ return(False) }}
  {%- endif -%}
  {%- set relation = adapter.get_relation(this.database, this.schema, this.table) -%}
  {{ return(relation is not none and relation.type == 'table' and not should_full_refresh()) }}
{% endmacro %}
