"""METASTORE=hms: the settings, and what the stack gives the Hive Metastore and Trino, without starting anything."""

from __future__ import annotations

import stat
import xml.etree.ElementTree as ElementTree

import pytest

from pipeline.settings import Settings, SettingsError
from pipeline.stack import artifacts, hms, supervisor, trino
from pipeline.stack.supervisor import write_entry


@pytest.fixture
def embedded(tmp_path) -> Settings:
    """An S3 lakehouse on the embedded s3proxy and Hive Metastore, whose ports the state file holds."""
    settings = Settings.from_env({"LAKEHOUSE_HOME": str(tmp_path / "home"), "LAKEHOUSE_URI": "s3://lake/prefix",
                                  "LAKEHOUSE_JVM_CACHE": str(tmp_path / "jvm")})
    write_entry(settings, "s3proxy", {"pid": None, "port": 9123})
    write_entry(settings, "hms", {"pid": None, "port": 9083})
    (settings.run_dir / "s3proxy").mkdir(parents=True)
    settings.s3_credentials_file.write_text('{"access_key": "lakehouse-1", "secret_key": "s<cret&"}')
    return settings


def _settings(tmp_path, **env: str) -> Settings:
    return Settings.from_env({"LAKEHOUSE_HOME": str(tmp_path), **env})


def test_the_hive_metastore_is_the_default_catalog_on_s3_and_files_stay_the_default_locally(tmp_path, embedded):
    assert (embedded.metastore, embedded.embedded_hms) == ("hms", True)
    assert embedded.metastore_uri == "thrift://127.0.0.1:9083"
    on_s3_with_files = _settings(tmp_path, LAKEHOUSE_URI="s3://lake", METASTORE="file")
    assert (on_s3_with_files.metastore, on_s3_with_files.embedded_hms) == ("file", False)
    assert (_settings(tmp_path).metastore, _settings(tmp_path).embedded_hms) == ("file", False)
    shared = _settings(tmp_path, LAKEHOUSE_URI="s3://lake", HIVE_METASTORE_URI="thrift://hive-metastore:9083")
    assert (shared.embedded_hms, shared.metastore_uri) == (False, "thrift://hive-metastore:9083")
    with pytest.raises(SettingsError, match="stack up"):
        _settings(tmp_path, LAKEHOUSE_URI="s3://lake").metastore_uri


@pytest.mark.parametrize("env, message", [
    ({"METASTORE": "glue"}, "METASTORE='glue': use hms .* or file"),
    ({"METASTORE": "hms"}, "METASTORE=hms needs an S3 lakehouse"),
    ({"LAKEHOUSE_URI": "s3://lake", "HIVE_METASTORE_URI": "hive-metastore:9083"}, "give a thrift://host:port URI"),
    ({"LAKEHOUSE_URI": "s3://lake", "METASTORE": "file", "HIVE_METASTORE_URI": "thrift://h:9083"},
     "with METASTORE=hms"),
])
def test_a_wrong_metastore_setting_says_what_to_do(tmp_path, env, message):
    with pytest.raises(SettingsError, match=message):
        _settings(tmp_path, **env)


def test_the_stack_starts_the_metastore_after_s3_and_before_trino_only_when_it_is_its_own(tmp_path, embedded):
    assert supervisor.services(embedded) == ("s3proxy", "hms", "kafka", "trino")
    assert artifacts.HMS in artifacts.needed(embedded)
    shared = _settings(tmp_path, LAKEHOUSE_URI="s3://lake", HIVE_METASTORE_URI="thrift://hive-metastore:9083",
                       S3_ENDPOINT="http://minio:9000", AWS_ACCESS_KEY_ID="k", AWS_SECRET_ACCESS_KEY="s")
    assert supervisor.services(shared) == ("kafka", "trino")
    assert artifacts.HMS not in artifacts.needed(shared) and artifacts.HMS not in artifacts.needed(_settings(tmp_path))


def test_the_metastore_keeps_derby_under_the_run_dir_listens_on_loopback_and_reaches_the_bucket(embedded):
    derby = embedded.run_dir / "hms" / "derby"
    site = hms.site(embedded, port=9083, derby=derby)
    assert site["javax.jdo.option.ConnectionURL"] == f"jdbc:derby:;databaseName={derby};create=true"
    assert (site["metastore.thrift.bind.host"], site["metastore.thrift.port"]) == ("127.0.0.1", "9083")
    assert site["metastore.warehouse.dir"] == "s3a://lake/prefix/_warehouse"
    # Trino hands the metastore s3:// locations; S3A serves them, on the embedded s3proxy.
    assert site["fs.s3.impl"] == "org.apache.hadoop.fs.s3a.S3AFileSystem"
    assert (site["fs.s3a.endpoint"], site["fs.s3a.path.style.access"]) == ("http://127.0.0.1:9123", "true")
    assert (site["fs.s3a.access.key"], site["fs.s3a.secret.key"]) == ("lakehouse-1", "s<cret&")
    # The XML holds every value as given, escaped.
    parsed = ElementTree.fromstring(hms.site_xml(site))
    assert {p.findtext("name"): p.findtext("value") for p in parsed.iter("property")} == site


def test_the_metastore_config_is_its_owners_alone_and_an_interrupted_schema_is_started_over(embedded, monkeypatch):
    home = embedded.jvm_cache / "hms" / "apache-hive-metastore-4.0.1-bin"
    home.mkdir(parents=True)
    tools = []

    def schema_tool(argv, **kwargs):
        tools.append(argv)
        return type("Done", (), {"returncode": 0})()

    monkeypatch.setattr(hms.subprocess, "run", schema_tool)
    base = embedded.run_dir / "hms"
    (base / "derby").mkdir(parents=True)  # what a killed schema tool left: no marker beside it
    (base / "derby" / "half-written").touch()
    spec = hms.prepare(embedded, java_home=embedded.home, port=9083)
    assert [argv[-3:] for argv in tools] == [["-initSchema", "-dbType", "derby"]]
    assert not (base / "derby").exists() and (base / "derby.initialized").exists()
    assert stat.S_IMODE((base / "conf" / "metastore-site.xml").stat().st_mode) == 0o600  # the S3 keys
    assert spec.argv[-1] == hms.MAIN_CLASS and spec.env["METASTORE_HOME"] == str(home)
    assert spec.argv[spec.argv.index("-cp") + 1].startswith(f"{base / 'conf'}:{home / 'lib' / '*'}:")
    hms.prepare(embedded, java_home=embedded.home, port=9083)
    assert len(tools) == 1  # initialised once


def test_trino_reads_both_catalogs_from_the_metastore_and_redirects_delta_tables_from_hive(embedded):
    catalogs = trino.catalogs(embedded)
    for name in ("delta", "hive"):
        lines = catalogs[name].splitlines()
        assert "hive.metastore=thrift" in lines and "hive.metastore.uri=thrift://127.0.0.1:9083" in lines
        assert not any(line.startswith(("hive.metastore.catalog.dir", "hive.metastore.disable-location-checks"))
                       for line in lines)
    assert "hive.delta-lake-catalog-name=delta" in catalogs["hive"].splitlines()
