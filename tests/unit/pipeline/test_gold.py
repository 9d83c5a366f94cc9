"""Gold's in-process dbt: the environment dbt sees, and failures."""

from __future__ import annotations

import os

import pytest

from pipeline import gold
from pipeline.settings import Settings


@pytest.fixture
def settings(tmp_path) -> Settings:
    # dbt parses without a connection; port 1 makes sure nothing here reaches a Trino.
    return Settings.from_env({"LAKEHOUSE_HOME": str(tmp_path), "TRINO_PORT": "1", "DBT_TARGET": "embedded"})


def test_dbt_sees_exactly_its_variables_from_the_settings_and_the_process_gets_its_own_back(settings, monkeypatch):
    monkeypatch.setenv("DBT_SCHEMA", "outer")
    monkeypatch.setenv("DBT_LOG_LEVEL", "debug")
    monkeypatch.setenv("TRINO_HOST", "elsewhere")
    monkeypatch.setenv("UNRELATED", "kept")
    before = dict(os.environ)

    with gold._environment(gold.dbt_env(settings, "gold_probe")):
        seen = {name: value for name, value in os.environ.items() if name.startswith(gold.DBT_ENV_PREFIXES)}
        unrelated = os.environ["UNRELATED"]

    assert seen == {"TRINO_HOST": "127.0.0.1", "TRINO_PORT": "1", "TRINO_USER": "lakehouse",
                    "DBT_SCHEMA": "gold_probe", "DBT_PROFILES_DIR": str(gold.DBT_PROJECT), "DBT_TARGET": "embedded",
                    "LAKEHOUSE_STORAGE": "local"}
    assert unrelated == "kept"
    assert dict(os.environ) == before


def test_a_command_that_fails_raises_with_the_tail_of_dbts_output(settings):
    with pytest.raises(gold.DbtFailed, match=r"(?s)exit code 2.*sales_window_minutes must be a whole number"):
        gold.dbt(settings, "parse", dbt_vars={"sales_window_minutes": 0}, quiet=True)


def test_on_s3_dbt_is_told_so_and_gold_merges(tmp_path):
    settings = Settings.from_env({"LAKEHOUSE_HOME": str(tmp_path), "TRINO_PORT": "1", "LAKEHOUSE_URI": "s3://lake/x",
                                  "S3_ENDPOINT": "http://127.0.0.1:1", "AWS_ACCESS_KEY_ID": "a",
                                  "AWS_SECRET_ACCESS_KEY": "b"})
    assert gold.dbt_env(settings)["LAKEHOUSE_STORAGE"] == "s3"
