"""Trino's view of the lakehouse: schemas, registration of the Delta tables Spark wrote, queries."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING
from urllib.parse import urlparse

from pipeline.settings import Settings
from pipeline.tables import BRONZE_TABLES, GOLD_SCHEMA, SILVER_TABLES, Table

if TYPE_CHECKING:
    import trino

CATALOG = "delta"


def connect(settings: Settings, schema: str | None = None) -> trino.dbapi.Connection:
    # Imported here: the stack's Trino config takes its locations from this module, also in Airflow's
    # virtualenv, which has no Trino client.
    import trino

    return trino.dbapi.connect(host=settings.trino_host, port=settings.trino_http_port,
                               user=settings.trino_user, catalog=CATALOG, schema=schema)


def query(settings: Settings, sql: str, params: tuple = ()) -> list[tuple]:
    connection = connect(settings)
    try:
        return _execute(connection.cursor(), sql, params)
    finally:
        connection.close()


def schema_location(settings: Settings, schema: str) -> str:
    """LAKEHOUSE_URI/<schema> as Trino addresses it: the embedded Trino sees the local lakehouse
    folder as `local:///` (its local.location); an S3 lakehouse is s3:// to Trino, s3a:// to Spark."""
    parsed = urlparse(settings.table_uri(schema, ""))
    if parsed.scheme == "file":
        return f"local:///{schema}"
    return f"s3://{parsed.netloc}{parsed.path}".rstrip("/")


def table_location(settings: Settings, schema: str, table: str) -> str:
    return f"{schema_location(settings, schema)}/{table}"


def spark_uri(settings: Settings, location: str) -> str:
    """A location as Trino gives it (`local:///…` or `s3://…`) -> the URI Spark reads it at (schema_location's inverse)."""
    parsed = urlparse(location)
    if parsed.scheme == "local":
        return f"{settings.lakehouse_uri}/{parsed.path.lstrip('/')}"
    if parsed.scheme == "s3":
        return f"s3a://{parsed.netloc}{parsed.path}"
    return location


def table_locations(settings: Settings, schema: str) -> dict[str, str]:
    """The tables (not views) Trino's metastore lists in `schema`, each with the URI Spark reads it at."""
    connection = connect(settings)
    try:
        cursor = connection.cursor()
        names = [name for (name,) in _execute(
            cursor, f"SELECT table_name FROM {CATALOG}.information_schema.tables "
                    "WHERE table_schema = ? AND table_type = 'BASE TABLE' ORDER BY table_name", (schema,))]
        locations = {}
        for name in names:
            [(ddl,)] = _execute(cursor, f'SHOW CREATE TABLE {CATALOG}.{schema}."{name}"')
            found = re.search(r"location = '((?:[^']|'')*)'", ddl)
            if found:
                locations[name] = spark_uri(settings, found[1].replace("''", "'"))
        return locations
    finally:
        connection.close()


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


SPARK_TABLES = (*BRONZE_TABLES, *SILVER_TABLES)
# The schemas the pipeline writes: Spark's, and Gold, which dbt writes through Trino.
PIPELINE_SCHEMAS = tuple(sorted({t.schema for t in SPARK_TABLES} | {GOLD_SCHEMA}))


def register_tables(settings: Settings) -> list[str]:
    """Create the schemas and register every Spark-written table Trino does not know yet.

    One query lists what exists; only what is missing costs a query more, so a cycle that finds
    everything in place costs one query, whatever the lakehouse holds. Registration points Trino
    at the table's folder once; later Delta commits by Spark are read from the transaction log,
    so nothing needs refreshing after a Silver run.
    """
    connection = connect(settings)
    try:
        cursor = connection.cursor()
        schemas, tables = missing(*_existing(cursor, PIPELINE_SCHEMAS))
        for schema in schemas:
            _execute(cursor, f"CREATE SCHEMA IF NOT EXISTS {CATALOG}.{schema} "
                             f"WITH (location = '{schema_location(settings, schema)}')")
        for table in tables:
            # CALL takes no bound parameters; the values are the project's own table names.
            _execute(cursor, f"CALL {CATALOG}.system.register_table(schema_name => {_literal(table.schema)}, "
                             f"table_name => {_literal(table.name)}, "
                             f"table_location => {_literal(table_location(settings, table.schema, table.name))})")
        return [table.qualified for table in tables]
    finally:
        connection.close()


def missing(existing_schemas: set[str], existing_tables: set[tuple[str, str]]) -> tuple[list[str], list[Table]]:
    """The pipeline's schemas and Spark-written tables that are not among those Trino lists."""
    return ([schema for schema in PIPELINE_SCHEMAS if schema not in existing_schemas],
            [table for table in SPARK_TABLES if (table.schema, table.name) not in existing_tables])


def _existing(cursor: trino.dbapi.Cursor, schemas: tuple[str, ...]) -> tuple[set[str], set[tuple[str, str]]]:
    """Which of `schemas` exist, and the (schema, table) pairs in them, in one query.

    Neither listing reads a Delta transaction log (both come from the metastore). That matters:
    in Trino 476, two scans of one query that load the same table's log race, and the listing
    drops that table without an error (see tests/e2e/test_gold_dbt.py's docs test).
    """
    marks = ", ".join("?" * len(schemas))
    rows = _execute(cursor, f"SELECT schema_name, NULL FROM {CATALOG}.information_schema.schemata "
                            f"WHERE schema_name IN ({marks}) "
                            "UNION ALL "
                            f"SELECT table_schema, table_name FROM {CATALOG}.information_schema.tables "
                            f"WHERE table_schema IN ({marks})", (*schemas, *schemas))
    return {schema for schema, _ in rows}, {(schema, table) for schema, table in rows if table is not None}


def _execute(cursor: trino.dbapi.Cursor, sql: str, params: tuple = ()) -> list[tuple]:
    cursor.execute(sql, params)
    return cursor.fetchall()
