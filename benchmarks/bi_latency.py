"""P5: BI query latency: the dashboard's two queries against `SELECT 1` on the same Trino, under 1, 5 and 20 users.

Each level is a locust run (benchmarks/locustfile.py, DashboardUser only) for a fixed time, every user querying
back to back (no think time), so the level is the number of queries in flight. A user picks one of three queries
at a time: `vw_sales_last_60min`, the last 24 hours by minute from `fct_sales_minute`, and the baseline `SELECT 1`,
which costs Trino's parsing, planning, scheduling and the client's round trips and nothing else. p50/p95 come
from locust's CSV (above 100 ms locust rounds to two significant digits).

The data: the full run loads a dashboard's day, so that both panels read what they would in production:
empty topics and lakehouse, happy_path 20,000 orders over the last 24 hours, one `python -m pipeline run
--once`. The quick run reads what Gold holds (what the freshness figure left, event time about now) and loads
happy_path 2,000 orders over the last hour only when the dashboard's last hour is empty. Set-up and a warm-up
round of each query are not timed.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

from benchmarks import dashboard, eventlogs, loadtest, plots
from benchmarks.harness import Context
from pipeline import catalog
from pipeline.settings import REPO_ROOT, Settings

TITLE = "P5: BI query latency under 1, 5 and 20 concurrent users (dashboard queries vs SELECT 1)"
USERS = (1, 5, 20)
SECONDS = 30
QUICK_SECONDS = 5
DAY_OF_ORDERS = (20_000, 24)  # orders, over that many hours up to now
QUICK_OWN_ORDERS = 2_000
QUERIES = (*dashboard.QUERIES, dashboard.BASELINE[0])
BASELINE = dashboard.BASELINE[0]
WARM_UP_ROUNDS = 3


def measure(ctx: Context) -> dict:
    settings = ctx.settings
    seconds = QUICK_SECONDS if ctx.quick else SECONDS
    gold = _gold_size(settings)
    loaded = None
    if not ctx.quick or not gold["last_60min_rows"]:
        orders, hours = (QUICK_OWN_ORDERS, 1) if ctx.quick else DAY_OF_ORDERS
        ctx.log(f"   loading happy_path {orders:,} orders over the last {hours} h (empty lakehouse, `pipeline run --once`)")
        _load_own_data(ctx, orders, hours)
        gold, loaded = _gold_size(settings), {"orders": orders, "hours": hours}
    _warm_up(settings)
    levels = []
    for users in USERS:
        ctx.log(f"   {users} user{'s' if users > 1 else ''} for {seconds}s")
        stats = loadtest.run(settings, ("DashboardUser",), users, seconds, ctx.work_dir / "bi_latency" / f"users{users}",
                             {"dashboard-wait": 0}, reset_stats=True)
        levels.append({"users": users, "queries": {s["name"]: s for s in stats.values() if s["type"] == "trino"}})
    return {"seconds": seconds, "gold": gold, "loaded_own_data": loaded, "levels": levels}


def _gold_size(settings: Settings) -> dict:
    try:
        minutes = catalog.query(settings, "SELECT count(*) FROM delta.gold.fct_sales_minute")[0][0]
        last_hour = catalog.query(settings, "SELECT count(*) FROM delta.gold.vw_sales_last_60min")[0][0]
    except Exception:  # noqa: BLE001 -- no Gold yet: load one
        return {"minutes": 0, "last_60min_rows": 0}
    return {"minutes": minutes, "last_60min_rows": last_hour}


def _load_own_data(ctx: Context, orders: int, hours: int) -> None:
    from pipeline import lakehouse
    from simulator.play import run_produce
    from simulator.scenario import load

    settings = ctx.settings
    lakehouse.empty(settings, log=eventlogs.silent)
    happy_path = load("happy_path")
    spread = replace(happy_path, knobs=replace(happy_path.knobs, window=timedelta(hours=hours)))
    start = datetime.now(timezone.utc).replace(second=0, microsecond=0) - timedelta(hours=hours, minutes=-1)
    (ctx.work_dir / "bi_latency").mkdir(parents=True, exist_ok=True)
    run_produce(settings, orders=orders, start=start, scenario=spread,
                expected_file=ctx.work_dir / "bi_latency" / "expected.json")
    log = ctx.work_dir / "bi_latency" / "pipeline-once.log"
    with log.open("w") as output:
        done = subprocess.run([sys.executable, "-m", "pipeline", "run", "--once"], cwd=REPO_ROOT, env=settings.env,
                              stdout=output, stderr=subprocess.STDOUT)
    if done.returncode != 0:
        raise RuntimeError(f"`python -m pipeline run --once` failed with {done.returncode}; see {log}")


def _warm_up(settings: Settings) -> None:
    """Each query a few times, untimed: Trino's first plans and the metastore's first reads are not the figure."""
    for _ in range(WARM_UP_ROUNDS):
        for sql in (*dashboard.QUERIES.values(), dashboard.BASELINE[1]):
            catalog.query(settings, sql)


def render(figures: dict, plots_dir: Path) -> str:
    levels = figures["levels"]
    gold = figures["gold"]
    lines = [
        f"Each level ran {figures['seconds']}s, every user querying back to back; Gold held {gold['minutes']:,} "
        f"minutes, {gold['last_60min_rows']:,} of them in the dashboard's last hour"
        + (f" (loaded by this figure: happy_path {loaded['orders']:,} orders over the last {loaded['hours']} h)."
           if (loaded := figures["loaded_own_data"]) else " (left by the figure before)."),
        "",
        "| users | query | requests | failures | p50 | p95 | p95 / SELECT 1 p95 |",
        "|---:|---|---:|---:|---:|---:|---:|",
    ]
    for level in levels:
        baseline = level["queries"].get(BASELINE, {}).get("p95_ms")
        for name in QUERIES:
            stat = level["queries"].get(name)
            if stat is None:
                continue
            ratio = (f"{stat['p95_ms'] / baseline:,.1f}×" if baseline and stat["p95_ms"] is not None and name != BASELINE
                     else "")
            lines.append(f"| {level['users']} | {name} | {stat['requests']:,} | {stat['failures']:,} | "
                         f"{_ms(stat['p50_ms'])} | {_ms(stat['p95_ms'])} | {ratio} |")
    lines += ["", _plot(levels, plots_dir)]
    return "\n".join(lines)


def _plot(levels: list[dict], plots_dir: Path) -> str:
    plt = plots.pyplot()
    figure, axes = plt.subplots(figsize=(7.5, 3.8))
    width = 0.8 / len(QUERIES)
    for number, name in enumerate(QUERIES):
        values = [level["queries"].get(name, {}).get("p95_ms") or 0 for level in levels]
        colour = plots.BASELINE_COLOUR if name == BASELINE else None
        axes.bar([i + (number - 1) * width for i in range(len(levels))], values, width, label=name, color=colour)
    axes.set_xticks(range(len(levels)), [f"{level['users']} user{'s' if level['users'] > 1 else ''}" for level in levels])
    axes.set_ylabel("p95 latency, ms")
    axes.set_title("Dashboard queries vs SELECT 1 (grey), p95")
    axes.legend(fontsize=8)
    return plots.save(figure, plots_dir, "bi-latency-p95.png", "BI query latency p95")


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f} ms"
