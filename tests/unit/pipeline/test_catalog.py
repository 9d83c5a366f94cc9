"""Where Trino finds the tables Spark wrote (local and S3 lakehouse), and which it still has to be told about."""

from pipeline.catalog import PIPELINE_SCHEMAS, SPARK_TABLES, missing, schema_location, spark_uri, table_location
from pipeline.settings import Settings


def test_local_lakehouse_tables_are_under_trinos_local_root(tmp_path):
    settings = Settings.from_env({"LAKEHOUSE_HOME": str(tmp_path)})
    assert schema_location(settings, "silver") == "local:///silver"
    assert table_location(settings, "silver", "orders_clean") == "local:///silver/orders_clean"


def test_s3_lakehouse_tables_are_s3_to_trino():
    settings = Settings.from_env({"LAKEHOUSE_URI": "s3a://lakehouse/prod/"})
    assert table_location(settings, "bronze_raw", "orders_raw") == "s3://lakehouse/prod/bronze_raw/orders_raw"


def test_a_location_trino_gives_is_where_spark_finds_the_table(tmp_path):
    # Gold's tables live in folders Trino names (unique table locations); `maintain` reads them from Spark.
    local = Settings.from_env({"LAKEHOUSE_HOME": str(tmp_path)})
    assert spark_uri(local, "local:///gold/fct_sales_minute__v20261205084537471126-7a3e63fa") == \
        local.table_uri("gold", "fct_sales_minute__v20261205084537471126-7a3e63fa")
    s3 = Settings.from_env({"LAKEHOUSE_URI": "s3a://lakehouse/prod/"})
    assert spark_uri(s3, table_location(s3, "gold", "fct_sales_minute")) == s3.table_uri("gold", "fct_sales_minute")


def test_registration_finds_nothing_missing_when_trino_lists_every_schema_and_table():
    listed_tables = {(table.schema, table.name) for table in SPARK_TABLES}
    assert missing(set(PIPELINE_SCHEMAS), listed_tables) == ([], [])


def test_registration_creates_the_missing_schemas_and_registers_the_missing_tables():
    schemas, tables = missing({"silver", "other"}, {("silver", "orders_clean"), ("silver", "quarantine")})
    assert schemas == ["bronze_raw", "gold"]
    assert [table.qualified for table in tables] == [
        "bronze_raw.orders_raw", "bronze_raw.payments_raw", "silver.payments_clean", "silver.order_payments_enriched"]
