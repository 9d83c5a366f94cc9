"""The live sales dashboard in a real Superset on the session's stack, read as an anonymous visitor: every
chart's data equals the oracle's, to the cent; headless Chromium renders it without an error; a second wave
of events shows after the next pipeline run, with the same server and no stale cache."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from pipeline import gold, lakehouse, run
from pipeline.settings import Settings
from pipeline.stack import bi
from pipeline.stack.process import descendants, listeners
from simulator.oracle import GoldRow
from simulator.oracle import expect as oracle
from simulator.producer import produce
from simulator.scenario import load
from tests.e2e import children

ORDERS = 300
SEED = 11
# The view's window ends this long before the scenario's last minute: its end then cuts off minutes with
# sales, so a window that was not pinned, or pinned wrong, shows.
PIN_BEFORE_LAST = timedelta(minutes=5)
# The first wave's share of the messages (in arrival order, about event time order): it reaches into the
# table's last 15 minutes, and the second wave still changes every chart.
FIRST_WAVE_SHARE = 0.8
WINDOW = timedelta(minutes=60)
TABLE_WINDOW = timedelta(minutes=15)
CHARTS = ("GMV per minute", "Paid orders per minute", "GMV, last 60 minutes", "Paid orders, last 60 minutes",
          "Last 15 minutes")
# What Superset's frontend shows when a chart's query fails (an antd error alert); a healthy page has none.
ERROR_MARKERS = ("ant-alert-error", 'role="alert"', "Data error")
BROWSER_TIMEOUT_SECONDS = 180
BIG_NUMBER = re.compile(r'class="header-line"[^>]*>([^<]*)<')


@dataclass(frozen=True)
class Wave:
    gold: list[GoldRow]
    last_minute: datetime


@pytest.fixture(scope="module")
def superset(settings: Settings, stack):
    started = time.monotonic()
    bi.up(settings)
    print(f"\nbi up in {time.monotonic() - started:.1f}s")
    pid = bi.status(settings).pid
    processes = [pid, *descendants(pid)]
    yield settings
    # The view back on the clock, as the pipeline leaves it, for the modules that follow.
    gold.pin_sales_window(settings, None, quiet=True)
    bi.down(settings)
    assert not bi.status(settings).running
    assert not [p for p in processes if children.is_running(p)], "bi down left gunicorn processes behind"


@pytest.fixture(scope="module")
def messages(settings):
    return load("happy_path").messages(settings.topic_order_events, settings.topic_payment_events,
                                       orders=ORDERS, seed=SEED)


@pytest.fixture(scope="module")
def last_minute(settings, messages) -> datetime:
    everything = oracle(messages, settings.topic_order_events, settings.topic_payment_events).gold
    return max(row.minute_bucket for row in everything) - PIN_BEFORE_LAST


@pytest.fixture(scope="module")
def first_wave(settings, spark, superset, messages, last_minute) -> Wave:
    lakehouse.empty(settings, spark)
    return _wave(settings, spark, messages, 0, _first_wave_end(messages), last_minute)


def _first_wave_end(messages) -> int:
    return int(len(messages) * FIRST_WAVE_SHARE)


def _wave(settings, spark, messages, start: int, end: int, last_minute: datetime) -> Wave:
    """Produce messages[start:end] (those before are in Kafka already), run the pipeline once, pin the view's
    window (the pipeline's dbt build puts it back on the clock), and return what the oracle expects."""
    produce(messages[start:end], settings.kafka_bootstrap, progress=False)
    run.run_once(spark, settings)
    gold.pin_sales_window(settings, last_minute, quiet=True)
    return Wave(oracle(messages[:end], settings.topic_order_events, settings.topic_payment_events).gold, last_minute)


def expected_charts(wave: Wave) -> dict[str, list[tuple]]:
    """What each chart must show, from the oracle's Gold: the minutes of the 60-minute window ending with
    `last_minute`, their totals, and the window's last 15 minutes newest first."""
    window = [row for row in wave.gold if wave.last_minute - WINDOW < row.minute_bucket <= wave.last_minute]
    recent = [row for row in window if row.minute_bucket > wave.last_minute - TABLE_WINDOW]
    return {
        "GMV per minute": [(row.minute_bucket, row.gmv) for row in window],
        "Paid orders per minute": [(row.minute_bucket, row.paid_orders) for row in window],
        "GMV, last 60 minutes": [(sum(row.gmv for row in window) if window else None,)],
        "Paid orders, last 60 minutes": [(sum(row.paid_orders for row in window) if window else None,)],
        "Last 15 minutes": [(row.minute_bucket, row.gmv, row.paid_orders)
                            for row in sorted(recent, key=lambda row: row.minute_bucket, reverse=True)],
    }


def actual_charts(api: bi.Api) -> dict[str, list[tuple]]:
    """Each chart's rows from Superset's chart-data API, as the anonymous visitor gets them."""
    charts = api.dashboard_charts()
    assert sorted(charts) == sorted(CHARTS)
    data = {name: api.chart_data(chart_id) for name, chart_id in charts.items()}
    return {
        "GMV per minute": [(_minute(row["minute_bucket"]), row["GMV"]) for row in data["GMV per minute"]],
        "Paid orders per minute": [(_minute(row["minute_bucket"]), row["Paid orders"])
                                   for row in data["Paid orders per minute"]],
        "GMV, last 60 minutes": [(row["GMV"],) for row in data["GMV, last 60 minutes"]],
        "Paid orders, last 60 minutes": [(row["Paid orders"],) for row in data["Paid orders, last 60 minutes"]],
        "Last 15 minutes": [(_minute(row["minute_bucket"]), row["gmv"], row["paid_orders"])
                            for row in data["Last 15 minutes"]],
    }


def _minute(epoch_ms: Decimal) -> datetime:
    return datetime.fromtimestamp(int(epoch_ms) / 1000, tz=timezone.utc)


def test_superset_listens_on_loopback_only(superset):
    pid = bi.status(superset).pid
    found = listeners([pid, *descendants(pid)])
    assert any(listener.port == bi.port(superset) for listener in found), found
    assert [listener for listener in found if not listener.is_loopback()] == []


def test_every_chart_shows_the_oracles_values_to_the_cent(superset, first_wave):
    expected = expected_charts(first_wave)
    assert len(expected["GMV per minute"]) > len(expected["Last 15 minutes"]) > 0, "a wave too small to test"
    actual = actual_charts(bi.Api.of(superset, anonymous=True))
    for chart in CHARTS:
        assert actual[chart] == expected[chart], chart


def test_the_public_role_reads_the_lakehouse_database_only(superset, first_wave):
    api = bi.Api.of(superset)
    database = api.one("/database/", "database_name", bi.DATABASE_NAME)
    public = api.one("/security/roles/", "name", bi.PUBLIC_ROLE)
    held = api.get(f"/security/roles/{public['id']}/permissions/")["result"]
    data_access = sorted((p["permission_name"], p["view_menu_name"]) for p in held
                         if p["permission_name"].endswith("_access"))
    assert data_access == [("database_access", f"[{bi.DATABASE_NAME}].(id:{database['id']})")]
    assert not [p for p in held if p["view_menu_name"] in ("SQL Lab", "Database") or
                (p["permission_name"] == "can_write" and p["view_menu_name"] in ("Dashboard", "Chart", "Dataset"))]


def test_a_browser_renders_the_dashboard_with_its_charts_and_no_error(superset, first_wave, tmp_path):
    browser = shutil.which(os.environ.get("CHROMIUM", "chromium"))
    if browser is None:
        pytest.fail("no chromium on PATH: run `bin/setup-bi --browser` (Debian's chromium through apt-get), or "
                    "set CHROMIUM to a Chromium binary")
    screenshot = tmp_path / "sales-dashboard.png"
    started = time.monotonic()
    page = subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--hide-scrollbars",
         f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1400,1100",
         # Lets the page's scripts run and its chart queries answer before the DOM and the picture are taken.
         "--virtual-time-budget=30000", f"--screenshot={screenshot}", "--dump-dom",
         bi.dashboard_url(bi.port(superset))],
        capture_output=True, text=True, timeout=BROWSER_TIMEOUT_SECONDS)
    print(f"\nbrowser: {time.monotonic() - started:.1f}s; screenshot {screenshot}")
    assert page.returncode == 0, page.stderr[-2000:]
    dom = page.stdout
    (tmp_path / "sales-dashboard.html").write_text(dom)
    assert screenshot.stat().st_size > 10_000
    assert "<title>Sales" in dom
    # ECharts draws the two per-minute charts on canvases.
    assert dom.count("<canvas") >= 2
    assert not [marker for marker in ERROR_MARKERS if marker in dom], "the page shows an error"
    totals = expected_charts(first_wave)
    [(gmv,)], [(paid,)] = totals["GMV, last 60 minutes"], totals["Paid orders, last 60 minutes"]
    # The big numbers, in the layout's order, as the page formats them (',.2f' and ',d').
    assert BIG_NUMBER.findall(dom) == [f"{gmv:,.2f}", f"{paid:,}"]


def test_a_second_wave_shows_after_the_next_pipeline_run_without_a_restart(superset, spark, messages, first_wave,
                                                                          last_minute):
    pid = bi.status(superset).pid
    api = bi.Api.of(superset, anonymous=True)
    before = actual_charts(api)
    second = _wave(superset, spark, messages, _first_wave_end(messages), len(messages), last_minute)
    expected = expected_charts(second)
    assert expected["GMV, last 60 minutes"] != before["GMV, last 60 minutes"], "a second wave that changes nothing"
    actual = actual_charts(api)
    for chart in CHARTS:
        assert actual[chart] == expected[chart], chart
    assert bi.status(superset).pid == pid
