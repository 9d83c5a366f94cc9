"""The partitioning benchmark's pure parts: the layouts Silver is given, the date filters, the rounds' order, the report."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from benchmarks import partitioning
from pipeline.tables import ORDERS_CLEAN, PAYMENTS_CLEAN


def test_the_layouts_change_only_the_clean_tables_partitioning_or_clustering():
    partitioned, none, clustered = (partitioning.layout_tables(name) for name in ("partitioned", "none", "clustered"))
    assert partitioned == {ORDERS_CLEAN: ORDERS_CLEAN, PAYMENTS_CLEAN: PAYMENTS_CLEAN}  # today's tables.py
    assert [(t.qualified, t.partition_by, t.cluster_by) for t in none.values()] == [
        ("silver.orders_clean", (), ()), ("silver.payments_clean", (), ())]
    assert [(t.qualified, t.partition_by, t.cluster_by) for t in clustered.values()] == [
        ("silver.orders_clean", (), ("event_date",)), ("silver.payments_clean", (), ("event_date",))]


def test_one_day_is_an_equality_and_seven_days_a_closed_range():
    day = date(2026, 12, 11)
    assert partitioning.query_sql(ORDERS_CLEAN, "total_amount", day, 1) == (
        "SELECT count(*), sum(total_amount) FROM delta.silver.orders_clean WHERE event_date = DATE '2026-12-11'")
    assert partitioning.query_sql(PAYMENTS_CLEAN, "amount", day, 7).endswith(
        "WHERE event_date BETWEEN DATE '2026-12-11' AND DATE '2026-12-17'")


def test_every_other_round_runs_the_layouts_in_reverse():
    layouts = ["partitioned", "none", "clustered"]
    assert [partitioning.round_order(layouts, n) for n in range(3)] == [
        layouts, ["clustered", "none", "partitioned"], layouts]


def query(median_ms: float, splits: int, kib: int, rows: int, answer=("815", "41000.50")) -> dict:
    return {"median_ms": median_ms, "runs_ms": [median_ms] * 5, "answer": list(answer), "splits": splits,
            "physical_input_bytes": kib * 1024, "processed_rows": rows}


def layout(silver: list[float], optimize: list[float], files: int, mib: float, ms: float, splits: int, kib: int,
           rows: int) -> dict:
    tables = {"files": files, "bytes": int(mib * 2**20)}
    return {"silver_seconds": silver, "optimize_seconds": optimize,
            "tables": {"orders_clean": tables, "payments_clean": tables},
            "queries": {"orders_clean, 1 day": query(ms, splits, kib, rows)}}


FIGURES = {
    "orders": 20_000, "days": 30, "messages": 63_409, "rounds": 2, "query_runs": 5, "first_day": "2026-12-11",
    "queries": {"orders_clean, 1 day": "SELECT count(*), sum(total_amount) FROM delta.silver.orders_clean "
                                       "WHERE event_date = DATE '2026-12-11'"},
    "baseline": "partitioned",
    "layouts": {
        "partitioned": layout([50.0, 40.0], [0.0, 0.0], 62, 1.9, 400, 5, 67, 815),
        "none": layout([30.0, 36.0], [0.0, 0.0], 2, 1.6, 200, 5, 1_603, 23_796),
        "clustered": layout([30.0, 40.0], [8.0, 10.0], 1, 1.5, 100, 4, 1_546, 23_796),
    },
    "failures": [],
}


def test_the_report_sets_each_layout_beside_todays(tmp_path: Path):
    text = partitioning.render(FIGURES, tmp_path)
    assert "| partitioned (today's) | 45.0 | 50.0, 40.0 | 1.00x | 62 | 1.9 | 62 | 1.9 |" in text
    assert "| none | 33.0 | 30.0, 36.0 | 0.73x | 2 | 1.6 | 2 | 1.6 |" in text
    # Clustering's seconds include the OPTIMIZE that clusters the rows.
    assert "| clustered | 44.0 | 30.0 + 8.0 OPTIMIZE, 40.0 + 10.0 OPTIMIZE | 0.98x | 1 | 1.5 | 1 | 1.5 |" in text
    assert "| orders_clean, 1 day | partitioned (today's) | 400 | 1.00x | 5 | 67 | 815 |" in text
    assert "| orders_clean, 1 day | none | 200 | 0.50x | 5 | 1,603 | 23,796 |" in text
    assert "Every layout gave each query the same answer." in text


def test_the_report_names_a_query_whose_answers_differ(tmp_path: Path):
    text = partitioning.render({**FIGURES, "failures": ["orders_clean, 1 day: none answers ['1', '2'], …"]},
                               tmp_path)
    assert "**Answers differ**: orders_clean, 1 day: none answers ['1', '2']" in text
