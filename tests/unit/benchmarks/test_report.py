"""The report is rendered from a run's raw JSON alone: every figure, its baseline, the provenance, the plots."""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

import pytest

from benchmarks import freshness, goldcheck, provenance, report, runner
from simulator.oracle import GoldRow

MINUTE = datetime(2026, 11, 26, 10, 15, tzinfo=timezone.utc)
GOLD = [GoldRow(MINUTE, Decimal("39.98"), 1)]


def layers(bronze: float, silver: float, register: float, gold: float) -> dict[str, float]:
    return {"bronze": bronze, "silver": silver, "register": register, "gold": gold}


SAMPLE = {
    "format": 1,
    "command": "python -m benchmarks run --quick",
    "date": "2026-12-01T21:00:00+00:00",
    "quick": True,
    "home": "/tmp/bench",
    "seconds": 290.0,
    "stack_seconds": 20.0,
    "machine": {"hostname": "ci-box", "cores": 2, "memory_gib": 23.5, "cpu_model": "AMD EPYC", "os": "Linux"},
    "code": {"commit": "e716f4e0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6", "uncommitted_changes": True},
    "versions": {"pyspark": "4.2.0", "kafka broker and tools": "4.1.1", "trino server": "476"},
    "settings": {"spark_master": "local[2]"},
    "load_average_start": [0.5, 0.4, 0.3],
    "load_average_end": [1.9, 1.2, 0.8],
    "figures": {
        "producer": {"title": "P1: producer", "seconds": 20.0, "figures": {
            "scenario": "happy_path", "orders": 5000, "seed": 1, "repeat": 2, "messages": 15859, "mebibytes": 3.7,
            "seconds": {"generate": 0.85, "oracle": 0.68, "simulator": 3.48, "bare_loop": 3.17},
            "messages_per_second": {"generate": 18601, "oracle": 23354, "simulator": 4556, "bare_loop": 5003}}},
        "bronze_ingest": {"title": "P2: Bronze ingest", "seconds": 60.0, "figures": {
            "messages": 30000, "messages_per_topic": {"orders.events": 11524, "payments.events": 18476},
            "warm_up_messages": 2000,
            "bronze": {"rows": 30000, "seconds": 12.5, "rows_per_second": 2400.0},
            "perf_test": {"java": 17, "messages": 30000, "seconds": 3.0, "messages_per_second": 10000.0, "topics": {
                "orders.events": {"start": "s", "end": "e", "mebibytes": 3.7, "messages": 11524,
                                  "messages_per_second": 5108.2, "rebalance_ms": 1712, "fetch_ms": 544,
                                  "fetch_messages_per_second": 21183.8, "wall_seconds_with_jvm_start": 7.0}}}}},
        "catchup": {"title": "P3: catch-up", "seconds": 150.0, "figures": {
            "scenario": "happy_path", "warm_up_messages": 2000, "linear_within": 1.2,
            "target_events_per_second": 10000, "target_at_events": 1000000,
            "per_event_cost_ratio": 0.5,
            "runs": [
                {"events": 20000, "seconds": 40.0, "layers": layers(8, 20, 2, 10), "events_per_second": 500.0,
                 "duckdb": {"seconds": 0.8, "events_per_second": 25000.0},
                 "gold_check": goldcheck.compare({"pipeline": GOLD, "DuckDB": GOLD, "oracle": GOLD})},
                {"events": 100000, "seconds": 100.0, "layers": layers(20, 60, 2, 18), "events_per_second": 1000.0,
                 "duckdb": {"seconds": 2.0, "events_per_second": 50000.0},
                 "gold_check": goldcheck.compare({"pipeline": [], "DuckDB": GOLD, "oracle": GOLD})},
            ]}},
        "incremental": {"title": "Incremental cycle", "seconds": 80.0, "figures": {
            "new_events_per_cycle": 1000, "cycles": 3, "within": 1.2, "ratio": 1.5,
            "interpreted_below_bytes": 16 * 2**20,
            "layer_ratios": {"bronze": 1.0, "silver": 2.0, "register": 1.0, "gold": 1.25},
            "states": [
                {"bronze_rows_before": 5000, "reused_from_catchup": False, "silver_bytes": 2**19,
                 "cycles": [{"seconds": 10.0, "layers": layers(2, 4, 1, 3)}] * 3,
                 "median": {"seconds": 10.0, "layers": layers(2, 4, 1, 3)}},
                {"bronze_rows_before": 100000, "reused_from_catchup": True, "silver_bytes": 7 * 2**20,
                 "cycles": [{"seconds": 15.0, "layers": layers(2, 8, 1, 3.75)}] * 3,
                 "median": {"seconds": 15.0, "layers": layers(2, 8, 1, 3.75)}},
            ]}},
        "freshness": {"title": "P4: freshness", "seconds": 5.0, "error": "RuntimeError: Kafka went away",
                      "traceback": "Traceback (most recent call last):\n  ...\nRuntimeError: Kafka went away\n"},
        "memory": {"title": "Peak RSS", "seconds": 0.1, "figures": {"processes": {
            "Kafka JVM": {"pid": 11, "peak_mib": 421.0, "current_mib": 400.0},
            "Trino JVM": {"pid": 12, "peak_mib": 1535.0, "current_mib": 1492.0},
            "Spark driver JVM": {"pid": None},
            "Python driver": {"pid": 14, "peak_mib": 75.4, "current_mib": 70.0}}}},
    },
}


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    folder = tmp_path_factory.mktemp("reports")
    raw = folder / "2026-12-01-ci-box-quick.json"
    raw.write_text(json.dumps(SAMPLE))
    try:
        report.render_file(raw)
    except report.RenderFailed as error:
        pytest.fail(str(error))
    return raw.with_suffix(".md").read_text(), folder / "2026-12-01-ci-box-quick"


def test_the_header_says_where_the_figures_come_from(rendered: tuple[str, Path]) -> None:
    text, _ = rendered
    assert "`python -m benchmarks run --quick`" in text
    assert "2 cores, 23.5 GiB, AMD EPYC" in text
    assert "- code: commit e716f4e0a1b2 plus uncommitted changes" in text
    assert "| kafka broker and tools | 4.1.1 |" in text
    assert "at the start: 0.50, 0.40, 0.30, at the end: 1.90, 1.20, 0.80" in text
    assert "[2026-12-01-ci-box-quick.json](2026-12-01-ci-box-quick.json)" in text


def test_each_figure_stands_beside_its_baseline(rendered: tuple[str, Path]) -> None:
    text, _ = rendered
    assert "| bare producer loop: send ready-made (baseline) | 5,003 | 3.17 |" in text
    assert "| Bronze: Spark availableNow, Kafka -> Delta | 30,000 | 12.5 | 2,400 |" in text
    assert "| kafka-consumer-perf-test, both topics at once (baseline) | 30,000 | 3.0 | 10,000 |" in text
    assert "| 100,000 | 20.0 | 60.0 | 2.0 | 18.0 | 100.0 | 1,000 | 2.0 | 50,000 | **no** |" in text
    assert "**0.50x** (linear;" in text
    assert ("Target of 10,000 events/s at 100,000 events: **missed** by 90% (1,000); the target is set at "
            "1,000,000 events") in text
    assert "**1.50x** (**over target**: <= 1.2x); per layer: bronze 1.00x, silver 2.00x" in text
    assert "| 100,000 | 7.0 | 2.0 | 8.0 | 1.0 | 3.8 | 15.0 | 15.0, 15.0, 15.0 |" in text
    assert "below 16 MiB its incremental steps ran without whole-stage code generation" in text
    assert "| Python driver | 14 | 75 | 70 |" in text
    assert "| Spark driver JVM | - | not running | |" in text


def test_gold_verdicts_say_identical_or_show_the_differences(rendered: tuple[str, Path]) -> None:
    text, _ = rendered
    assert "20,000 events: Gold of pipeline, DuckDB, oracle: **identical**, minute by minute to the cent" in text
    assert "100,000 events: Gold of pipeline, DuckDB, oracle: **different** in 1 minutes" in text
    assert "| 2026-11-26T10:15Z | no row | 39.98 / 1 | 39.98 / 1 |" in text


def test_a_failed_figure_is_reported_not_dropped(rendered: tuple[str, Path]) -> None:
    text, _ = rendered
    assert "| P4: freshness | **failed** | 5 |" in text
    assert "**Failed** after 5s: `RuntimeError: Kafka went away`" in text


def test_plots_are_written_and_linked(rendered: tuple[str, Path]) -> None:
    text, plots = rendered
    pngs = sorted(path.name for path in plots.glob("*.png"))
    assert pngs == ["incremental-cycle.png", "memory-peak-rss.png", "p1-producer.png", "p2-bronze-ingest.png",
                    "p3-catchup-rate.png", "p3-catchup-seconds.png"]
    for name in pngs:
        assert f"]({plots.name}/{name})" in text
        assert (plots / name).read_bytes().startswith(b"\x89PNG")


def test_a_missing_figure_module_stops_the_run_before_it_starts() -> None:
    with pytest.raises(runner.FigureMissing, match="benchmarks/no_such_figure.py does not exist"):
        runner.load_figures(("producer", "no_such_figure"))


def test_quick_and_partial_runs_never_take_a_full_run_s_name() -> None:
    date = datetime(2026, 12, 1, tzinfo=timezone.utc)
    assert runner.report_stem(date, "vm", False, runner.FIGURES) == "2026-12-01-vm"
    assert runner.report_stem(date, "vm", True, runner.FIGURES) == "2026-12-01-vm-quick"
    assert runner.report_stem(date, "my host", False, ("catchup", "memory")) == "2026-12-01-my-host-only-catchup+memory"


def test_a_later_run_of_the_same_day_never_replaces_an_earlier_report(tmp_path) -> None:
    assert runner.unused_stem("2026-12-01-vm", tmp_path) == "2026-12-01-vm"
    (tmp_path / "2026-12-01-vm.json").write_text("{}")
    assert runner.unused_stem("2026-12-01-vm", tmp_path) == "2026-12-01-vm-2"
    (tmp_path / "2026-12-01-vm-2.md").write_text("# rendered only")
    assert runner.unused_stem("2026-12-01-vm", tmp_path) == "2026-12-01-vm-3"
    assert runner.unused_stem("2026-12-01-vm-quick", tmp_path) == "2026-12-01-vm-quick"


def test_a_run_records_the_commit_it_measured() -> None:
    code = provenance.code()
    assert re.fullmatch(r"[0-9a-f]{40}", code["commit"]), code
    assert code["uncommitted_changes"] in (True, False)


def test_a_review_kept_beside_the_raw_figures_is_linked_and_quoted_at_the_end(tmp_path: Path) -> None:
    raw = tmp_path / "2026-12-01-ci-box.json"
    raw.write_text(json.dumps({**SAMPLE, "quick": False}))
    raw.with_suffix(report.REVIEW_SUFFIX).write_text("Silver's fixed cost per run dominates.\n")
    text = report.render_file(raw).read_text()

    assert "- review of this run, by a person: [2026-12-01-ci-box.review.md](2026-12-01-ci-box.review.md)" in text
    assert text.endswith("## Review of this run\n\nSilver's fixed cost per run dominates.\n")


def test_the_freshness_target_says_met_or_by_how_much_it_was_missed() -> None:
    def figures(p95: float | None) -> dict:
        levels = [] if p95 is None else [{"rate": 200, "freshness": {"p95_s": p95}}]
        return {"target_p95_seconds": 30, "target_rate": 200, "levels": levels}

    assert freshness._target_verdict(figures(104.4)) == \
        "Target p95 <= 30s at 200 events/s: **missed** by 3.5x (104.4s)."
    assert freshness._target_verdict(figures(21.0)) == "Target p95 <= 30s at 200 events/s: **met** (21.0s)."
    assert freshness._target_verdict(figures(None)) == "Target p95 <= 30s at 200 events/s: not measured in this run."
