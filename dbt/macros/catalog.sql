{#
  dbt-trino's catalog query (`dbt docs generate`) reads information_schema.tables,
  information_schema.columns and system.metadata.table_comments in one query and inner-joins them.
  In Trino 476's Delta Lake connector, two scans of one query that load the same table's
  transaction log at the same time race ("latestTableVersions changed concurrently", trinodb/trino
  PR 25588), and the listing skips that table without an error: catalog.json then lacks a model
  now and then, more often on a busy machine. Here each listing is a query of its own, and the
  catalog query joins the one remaining scan (columns) with their rows as literals.
#}
{% macro trino__get_catalog_relations(information_schema, relations) -%}
    {%- set where = trino__get_catalog_relations_where_clause_sql(relations) -%}
    {%- set kinds = run_query("select table_catalog, table_schema, table_name, table_type from " ~ information_schema ~ ".tables " ~ where) -%}
    {%- set comments = run_query(trino__get_catalog_table_comment_relations_sql(information_schema, relations)) -%}
    {% set query %}
        with tables as (
            {{ lakehouse_catalog_values(kinds, ["table_database", "table_schema", "table_name", "table_type"]) }}
        ),
        columns as (
            {{ trino__get_catalog_columns_sql(information_schema) }}
            {{ where }}
        ),
        table_comment as (
            {{ lakehouse_catalog_values(comments, ["table_database", "table_schema", "table_name", "table_comment"]) }}
        )
        select
            table_database, table_schema, table_name, table_type, null as table_owner,
            column_name, column_index, column_type, column_comment, table_comment
        from tables
        join columns using ("table_database", "table_schema", "table_name")
        left join table_comment using ("table_database", "table_schema", "table_name")
        order by "column_index"
    {%- endset -%}
    {{ return(run_query(query)) }}
{%- endmacro %}


{# The rows of an agate table as a SELECT of literals, with these column names (no rows: none). #}
{% macro lakehouse_catalog_values(table, names) -%}
    {%- set rows = [] -%}
    {%- for row in table.rows -%}
        {%- set literals = [] -%}
        {%- for value in row -%}
            {%- do literals.append("null" if value is none else "'" ~ (value | string | replace("'", "''")) ~ "'") -%}
        {%- endfor -%}
        {%- do rows.append("(" ~ literals | join(", ") ~ ")") -%}
    {%- endfor -%}
    {%- if rows -%}
        select * from (values {{ rows | join(", ") }}) as t ("{{ names | join('", "') }}")
    {%- else -%}
        select {% for name in names %}cast(null as varchar) as "{{ name }}"{{ ", " if not loop.last }}{% endfor %} where false
    {%- endif -%}
{%- endmacro %}
