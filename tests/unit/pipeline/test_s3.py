"""An S3 lakehouse's settings, and what the stack, Spark and Trino are given for it, without starting anything."""

from __future__ import annotations

import stat

import pytest

from pipeline.settings import Settings, SettingsError
from pipeline.spark import s3a_options
from pipeline.stack import artifacts, s3proxy, supervisor, trino
from pipeline.stack.supervisor import write_entry


@pytest.fixture
def embedded(tmp_path) -> Settings:
    """A lakehouse on the embedded s3proxy, whose port the state file holds (as after `stack up`)."""
    settings = Settings.from_env({"LAKEHOUSE_HOME": str(tmp_path / "home"), "LAKEHOUSE_URI": "s3://lake/prefix/",
                                  "LAKEHOUSE_JVM_CACHE": str(tmp_path / "jvm")})
    write_entry(settings, "s3proxy", {"pid": None, "port": 9123})
    return settings


@pytest.fixture
def external(tmp_path) -> Settings:
    """An S3 service of the user's own, with Trino's file metastore in the bucket."""
    return Settings.from_env({"LAKEHOUSE_HOME": str(tmp_path), "LAKEHOUSE_URI": "s3a://shared/lake",
                              "S3_ENDPOINT": "http://minio:9000/", "AWS_ACCESS_KEY_ID": "minio",
                              "AWS_SECRET_ACCESS_KEY": "minio123", "AWS_REGION": "eu-west-1", "METASTORE": "file"})


def test_s3_and_s3a_name_the_same_lakehouse_which_spark_reads_as_s3a(embedded, external):
    assert embedded.lakehouse_uri == "s3a://lake/prefix"
    assert embedded.table_uri("silver", "orders_clean") == "s3a://lake/prefix/silver/orders_clean"
    assert (embedded.on_s3, embedded.embedded_s3, embedded.s3_bucket) == (True, True, "lake")
    assert (external.on_s3, external.embedded_s3, external.s3_endpoint) == (True, False, "http://minio:9000")
    local = Settings.from_env({"LAKEHOUSE_HOME": str(embedded.home)})
    assert (local.on_s3, local.embedded_s3) == (False, False)


@pytest.mark.parametrize("env, message", [
    ({"LAKEHOUSE_URI": "s3://"}, r"LAKEHOUSE_URI='s3://': use file:///an/absolute/path .* or s3://bucket/prefix"),
    ({"LAKEHOUSE_URI": "gs://lake"}, "LAKEHOUSE_URI='gs://lake'"),
    ({"S3_ENDPOINT": "minio:9000"}, r"S3_ENDPOINT='minio:9000': use the service's URL"),
    ({"S3_ENDPOINT": "http://minio:9000"}, "needs its keys too: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"),
])
def test_a_wrong_s3_setting_says_what_to_do(env, message):
    with pytest.raises(SettingsError, match=message):
        Settings.from_env(env)


def test_the_embedded_service_is_asked_for_only_once_the_stack_runs(tmp_path):
    settings = Settings.from_env({"LAKEHOUSE_HOME": str(tmp_path), "LAKEHOUSE_URI": "s3://lake"})
    with pytest.raises(SettingsError, match="stack up"):
        settings.s3_endpoint
    with pytest.raises(SettingsError, match="stack up"):
        settings.s3_keys


def test_the_embedded_keys_are_generated_once_and_only_their_owner_reads_them(embedded):
    keys = s3proxy.credentials(embedded)
    assert s3proxy.credentials(embedded) == keys == embedded.s3_keys
    assert stat.S_IMODE(embedded.s3_credentials_file.stat().st_mode) == 0o600
    spec = s3proxy.prepare(embedded, java_home=embedded.home, port=9123)
    config = embedded.run_dir / "s3proxy" / "s3proxy.conf"
    assert str(config) in spec.argv and stat.S_IMODE(config.stat().st_mode) == 0o600
    lines = config.read_text().splitlines()
    assert "s3proxy.endpoint=http://127.0.0.1:9123" in lines  # loopback only
    assert f"s3proxy.credential={keys[1]}" in lines
    assert f"jclouds.filesystem.basedir={embedded.run_dir / 's3proxy' / 'data'}" in lines


def test_the_stack_runs_s3proxy_first_only_for_an_embedded_s3_lakehouse(embedded, external, tmp_path):
    assert supervisor.services(embedded) == ("s3proxy", "hms", "kafka", "trino")
    assert supervisor.services(external) == ("kafka", "trino")
    assert artifacts.S3PROXY in artifacts.needed(embedded)
    assert artifacts.S3PROXY not in artifacts.needed(external)
    assert artifacts.S3PROXY not in artifacts.needed(Settings.from_env({"LAKEHOUSE_HOME": str(tmp_path)}))


def test_spark_reaches_the_bucket_with_its_own_endpoint_and_keys(external, tmp_path):
    assert s3a_options(external) == {
        "fs.s3a.bucket.shared.endpoint": "http://minio:9000",
        "fs.s3a.bucket.shared.endpoint.region": "eu-west-1",
        "fs.s3a.bucket.shared.path.style.access": "true",
        "fs.s3a.bucket.shared.connection.ssl.enabled": "false",
        "fs.s3a.bucket.shared.access.key": "minio",
        "fs.s3a.bucket.shared.secret.key": "minio123",
        "fs.s3a.bucket.shared.aws.credentials.provider": "org.apache.hadoop.fs.s3a.SimpleAWSCredentialsProvider",
    }
    assert s3a_options(Settings.from_env({"LAKEHOUSE_HOME": str(tmp_path)})) == {}


def test_trino_keeps_its_metastore_in_the_bucket_and_its_catalogs_to_itself(external):
    spec = trino.prepare(external, java_home=external.home, port=8123)
    assert spec.name == "trino"
    catalog = external.run_dir / "trino" / "etc" / "catalog" / "delta.properties"
    lines = catalog.read_text().splitlines()
    assert stat.S_IMODE(catalog.stat().st_mode) == 0o600  # it holds the keys
    for line in ("hive.metastore.catalog.dir=s3://shared/lake/_metastore", "fs.native-s3.enabled=true",
                 "s3.endpoint=http://minio:9000", "s3.region=eu-west-1", "s3.path-style-access=true",
                 "s3.aws-access-key=minio", "s3.aws-secret-key=minio123"):
        assert line in lines
    # On S3 Trino writes with conditional PUTs; the local file system's single-writer switch is not set.
    assert not any(line.startswith(("fs.native-local", "local.location", "delta.enable-non-concurrent"))
                   for line in lines)
