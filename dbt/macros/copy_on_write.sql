{#
  The copy_on_write materialization: each run writes the model's whole result with CREATE TABLE AS into a
  new version, the table `<model>__v<the time the run started>`, and then points the model, a view over that
  version, at it. The model decides what is incremental: when carries_over(), it reads its previous rows from
  {{ this }} (through the view, the current version), keeps those nothing changed and recomputes the rest. It
  is its own materialization, not dbt's `incremental` replaced, so a reader of the model sees what it does;
  it has no unique_key or incremental_strategy.

  Why not dbt-trino's merge: Trino 476's Delta Lake connector has no transaction-log synchronizer for the
  local file system, so INSERT, MERGE, DELETE and CREATE OR REPLACE TABLE on `local://` tables fail ("Writes
  are not enabled on the local filesystem"); CREATE TABLE AS, DROP and CREATE OR REPLACE VIEW work. Gold is
  one row per minute, so rewriting it is cheap.

  Why a view over versions rather than a table renamed into place: the swap is one statement, the view's
  replacement, which rewrites one small file of the metastore. So the model is never missing, however a run
  ends (with two renames, a run killed between them left it missing until the next run). The version a view
  replaced stays until the next run starts, so a query that began on it can finish.

  A run killed part-way leaves at worst a version the view never showed: the next run drops every table
  named `<model>__*` but the version the view shows. That also clears what the materialization of earlier
  releases left (`__dbt_new`, `__dbt_old`); a model they left as a table is dropped and made the view by the
  first run that finds it, and a kill between those two statements leaves it to be built again in full.
#}
{% materialization copy_on_write, adapter='trino' %}
  {%- set target_relation = this.incorporate(type='view') -%}
  {%- set existing_relation = load_cached_relation(this) -%}
  {%- set shown = shown_version(this) -%}
  {%- set new_version = this.incorporate(path={'identifier': this.identifier ~ '__v'
                                                               ~ run_started_at.strftime('%Y%m%d%H%M%S%f')},
                                         type='table') -%}

  {%- for leftover in versions_of(this) if leftover.identifier != shown %}
    {#- The version the last run's swap replaced (an older `__v` name) goes quietly; anything else is news. -#}
    {%- set replaced = shown is not none and leftover.identifier < shown
                       and leftover.identifier.startswith(this.identifier ~ '__v') -%}
    {%- if not replaced %}
      {{ log("dropping " ~ leftover ~ ", left by a run that did not finish", info=True) }}
    {%- endif %}
    {{ adapter.drop_relation(leftover) }}
  {%- endfor %}
  {{ run_hooks(pre_hooks) }}

  {% call statement('main') -%}
    {{ create_table_as(False, new_version, sql) }}
  {%- endcall %}

  {% if existing_relation is not none and not existing_relation.is_view %}
    {{ log("replacing the table " ~ existing_relation ~ " with a view over its versions", info=True) }}
    {{ adapter.drop_relation(existing_relation) }}
  {% endif %}
  {% call statement('swap') -%}
    {{ create_view_as(target_relation, 'select * from ' ~ new_version) }}
  {%- endcall %}

  {{ run_hooks(post_hooks) }}
  {% do persist_docs(target_relation, model) %}
  {{ return({'relations': [target_relation]}) }}
{% endmaterialization %}


{#- The name of the version the view `model` shows; none when it is no such view. Read from Trino, not dbt's
    cache of relations: the version it names must never be dropped. -#}
{% macro shown_version(model) %}
  {%- set definitions = run_query("select view_definition from " ~ model.information_schema() ~ ".views"
                                  ~ " where table_schema = '" ~ model.schema ~ "' and table_name = '"
                                  ~ model.identifier ~ "'") -%}
  {%- for row in definitions.rows -%}
    {%- set found = modules.re.search(model.identifier ~ '__v[0-9]+', row[0]) -%}
    {%- if found -%}
      {{ return(found.group(0)) }}
    {%- endif -%}
  {%- endfor -%}
  {{ return(none) }}
{% endmacro %}


{#- The tables named `<model>__*`: its versions, and what earlier releases' swaps left. -#}
{% macro versions_of(model) %}
  {%- set names = run_query("select table_name from " ~ model.information_schema() ~ ".tables"
                            ~ " where table_schema = '" ~ model.schema ~ "' and table_type = 'BASE TABLE'"
                            ~ " and starts_with(table_name, '" ~ model.identifier ~ "__')") -%}
  {%- set versions = [] -%}
  {%- for row in names.rows -%}
    {%- do versions.append(model.incorporate(path={'identifier': row[0]}, type='table')) -%}
  {%- endfor -%}
  {{ return(versions) }}
{% endmacro %}


{#- True when this run builds on the model's previous rows: the model exists (the view over its versions,
    or on S3 the table merged into) and the run is not a --full-refresh (dbt's is_incremental() is true only
    for the `incremental` materialization). -#}
{% macro carries_over() %}
  {%- if not execute -%}
    {{ return(False) }}
  {%- endif -%}
  {%- set relation = adapter.get_relation(this.database, this.schema, this.table) -%}
  {{ return(relation is not none and not should_full_refresh()) }}
{% endmacro %}
