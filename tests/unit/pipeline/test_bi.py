"""The dashboard kept as code (bi/superset) and the Superset settings `bi up` writes; no server is started."""

from __future__ import annotations

import io
import json
import stat
import zipfile

import pytest
import yaml

from pipeline.settings import REPO_ROOT, Settings
from pipeline.stack import bi


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings.from_env({"LAKEHOUSE_HOME": str(tmp_path)})


@pytest.fixture(scope="module")
def files() -> dict[str, str]:
    return bi.bundle_files()


@pytest.fixture(scope="module")
def rendered(files) -> dict[str, dict]:
    return {name: yaml.safe_load(text) for name, text in bi.render_bundle(files, "trino.example", 8123).items()}


def _of_kind(rendered: dict[str, dict], folder: str) -> list[dict]:
    return [config for name, config in rendered.items() if name.startswith(folder)]


def test_config_is_python_with_sqlite_metadata_the_key_public_viewing_and_no_cache(tmp_path):
    namespace: dict = {}
    exec(bi.config_text(tmp_path / "superset.db", "k3y"), namespace)
    assert namespace["SECRET_KEY"] == "k3y"
    assert namespace["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path / 'superset.db'}?timeout=60"
    assert namespace["PUBLIC_ROLE_LIKE"] == "Public"
    assert namespace["FAB_ADD_SECURITY_API"] is True
    assert namespace["DATA_CACHE_CONFIG"] == {"CACHE_TYPE": "NullCache"}
    assert namespace["CACHE_CONFIG"] == {"CACHE_TYPE": "NullCache"}


def test_secrets_are_generated_once_and_private(settings):
    config = bi.write_config(settings)
    first_key, first_password = bi.ensure_secrets(settings)["secret_key"], bi.admin_password(settings)
    bi.write_config(settings)
    assert bi.ensure_secrets(settings)["secret_key"] == first_key
    assert bi.admin_password(settings) == first_password
    assert len(first_password) >= 20 and len(first_key) >= 40
    assert first_key in config.read_text()
    for path in (config, bi.password_file(settings), settings.bi_home / "secrets.json"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


def test_only_the_trino_address_is_templated(files, rendered):
    templated = [name for name, text in files.items() if "${" in text]
    assert templated == ["databases/lakehouse.yaml"]
    assert "${" not in json.dumps(rendered)
    (database,) = _of_kind(rendered, "databases/")
    assert database["sqlalchemy_uri"] == "trino://bi@trino.example:8123/delta"
    assert database["database_name"] == bi.DATABASE_NAME


def test_an_unknown_placeholder_stops_the_rendering(files):
    with pytest.raises(KeyError, match="catalog"):
        bi.render_bundle({**files, "databases/lakehouse.yaml": "catalog: ${catalog}"}, "h", 1)


def test_every_chart_is_placed_once_by_its_uuid_and_every_placed_chart_exists(files, rendered):
    (dashboard,) = _of_kind(rendered, "dashboards/")
    placed = bi.position_chart_uuids(dashboard)
    charts = bi.chart_uuids(files)
    assert None not in placed, "a CHART entry without meta.uuid is imported twice"
    assert sorted(placed) == sorted(charts)
    assert len(set(placed)) == len(placed)
    names = {entry["meta"]["uuid"]: entry["meta"]["sliceName"] for entry in dashboard["position"].values()
             if isinstance(entry, dict) and entry.get("type") == "CHART"}
    assert names == charts
    # The importer reads meta.chartId before it sets it from the uuid: a placeholder must be there.
    assert all("chartId" in entry["meta"] for entry in dashboard["position"].values()
               if isinstance(entry, dict) and entry.get("type") == "CHART")


def test_references_between_assets_resolve(rendered):
    (database,) = _of_kind(rendered, "databases/")
    (dataset,) = _of_kind(rendered, "datasets/")
    assert dataset["database_uuid"] == database["uuid"]
    assert (dataset["schema"], dataset["table_name"]) == ("gold", "vw_sales_last_60min")
    for chart in _of_kind(rendered, "charts/"):
        assert chart["dataset_uuid"] == dataset["uuid"], chart["slice_name"]
        assert chart["params"]["viz_type"] == chart["viz_type"], chart["slice_name"]


def test_every_chart_has_a_saved_query_for_the_data_api(rendered):
    columns = {column["column_name"] for column in _of_kind(rendered, "datasets/")[0]["columns"]}
    for chart in _of_kind(rendered, "charts/"):
        context = json.loads(chart["query_context"])  # Superset stores it as a JSON string
        (query,) = context["queries"]
        used = [c if isinstance(c, str) else c["sqlExpression"] for c in query["columns"]]
        assert set(used) <= columns, chart["slice_name"]
        assert query["metrics"] or query["columns"], chart["slice_name"]


def test_dashboard_is_titled_sales_published_and_refreshes_every_minute(rendered):
    (dashboard,) = _of_kind(rendered, "dashboards/")
    assert dashboard["dashboard_title"] == "Sales"
    assert dashboard["position"]["HEADER_ID"]["meta"]["text"] == "Sales"
    assert dashboard["slug"] == bi.DASHBOARD_SLUG
    assert dashboard["published"] is True
    assert dashboard["metadata"]["refresh_frequency"] == 60


def test_chart_kinds_are_the_issues(rendered):
    kinds = sorted((chart["viz_type"], chart["slice_name"]) for chart in _of_kind(rendered, "charts/"))
    assert kinds == [
        ("big_number_total", "GMV, last 60 minutes"),
        ("big_number_total", "Paid orders, last 60 minutes"),
        ("echarts_timeseries_bar", "Paid orders per minute"),
        ("echarts_timeseries_line", "GMV per minute"),
        ("table", "Last 15 minutes"),
    ]


def test_zip_keeps_every_file_under_one_root_folder(files):
    archive = zipfile.ZipFile(io.BytesIO(bi.bundle_zip(bi.render_bundle(files, "h", 1))))
    assert sorted(archive.namelist()) == sorted(f"bundle/{name}" for name in files)
    assert yaml.safe_load(archive.read("bundle/metadata.yaml")) ["type"] == "assets"


def test_dbt_exposure_points_at_the_dashboard():
    exposures = yaml.safe_load((REPO_ROOT / "dbt" / "models" / "exposures.yml").read_text())["exposures"]
    (dashboard,) = [e for e in exposures if e["name"] == "live_sales_dashboard"]
    assert dashboard["url"] == bi.DASHBOARD_PATH


@pytest.mark.parametrize("value, expected", [
    ({"filters": [{"col": "name", "opr": "eq", "value": "Public"}]}, "(filters:!((col:'name',opr:'eq',value:'Public')))"),
    ("[lakehouse].(id:1)", "'[lakehouse].(id:1)'"),
    ("it's!", "'it!'s!!'"),
    (7, "7"),
])
def test_rison_encodes_the_api_queries(value, expected):
    assert bi.rison(value) == expected


def test_api_refuses_when_superset_is_not_running(settings):
    with pytest.raises(bi.StackError, match="bi up"):
        bi.Api.of(settings)
