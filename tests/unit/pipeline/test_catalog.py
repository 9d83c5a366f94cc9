"""Where Trino finds the tables Spark wrote, for a local and for an S3 lakehouse."""

from pipeline.catalog import schema_location, table_location
from pipeline.settings import Settings


def test_local_lakehouse_tables_are_under_trinos_local_root(tmp_path):
    settings = Settings.from_env({"LAKEHOUSE_HOME": str(tmp_path)})
    assert schema_location(settings, "silver") == "local:///silver"
    assert table_location(settings, "silver", "orders_clean") == "local:///silver/orders_clean"


def test_s3_lakehouse_tables_are_s3_to_trino():
    settings = Settings.from_env({"LAKEHOUSE_URI": "s3a://lakehouse/prod/"})
    assert table_location(settings, "bronze_raw", "orders_raw") == "s3://lakehouse/prod/bronze_raw/orders_raw"
