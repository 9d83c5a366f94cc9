"""Trino's view of the lakehouse: schemas, registration of the Delta tables Spark wrote, queries."""

from __future__ import annotations

from urllib.parse import urlparse

import trino

from pipeline.settings import Settings
from pipeline.tables import BRONZE_TABLES, GOLD_SCHEMA, SILVER_TABLES

CATALOG = "delta"


def connect(settings: Settings, schema: str | None = None) -> trino.dbapi.Connection:
    return trino.dbapi.connect(host=settings.trino_host, port=settings.trino_http_port,
                               user=settings.trino_user, catalog=CATALOG, schema=schema)


def query(settings: Settings, sql: str, params: tuple = ()) -> list[tuple]:
    connection = connect(settings)
    try:
        cursor = connection.cursor()
        cursor.execute(sql, params)
        return cursor.fetchall()
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


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def register_tables(settings: Settings) -> list[str]:
    """Create the schemas and register every Spark-written table Trino does not know yet.

    Registration points Trino at the table's folder once; later Delta commits by Spark are
    read from the transaction log, so nothing needs refreshing after a Silver run.
    """
    registered = []
    tables = (*BRONZE_TABLES, *SILVER_TABLES)
    for schema in sorted({t.schema for t in tables} | {GOLD_SCHEMA}):
        query(settings, f"CREATE SCHEMA IF NOT EXISTS {CATALOG}.{schema} "
                        f"WITH (location = '{schema_location(settings, schema)}')")
    for table in tables:
        known = query(settings, f"SELECT count(*) FROM {CATALOG}.information_schema.tables "
                                "WHERE table_schema = ? AND table_name = ?", (table.schema, table.name))
        if known[0][0]:
            continue
        # CALL takes no bound parameters; the values are the project's own table names.
        query(settings, f"CALL {CATALOG}.system.register_table(schema_name => {_literal(table.schema)}, "
                        f"table_name => {_literal(table.name)}, "
                        f"table_location => {_literal(table_location(settings, table.schema, table.name))})")
        registered.append(table.qualified)
    return registered
