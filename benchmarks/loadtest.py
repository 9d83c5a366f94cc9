"""Running the locust load tests of benchmarks/locustfile.py headless from a benchmark, and reading locust's CSV.

Locust runs as a child process (it patches the standard library for gevent on import, which the benchmark
process must not get), with the benchmark's environment, so it finds the same stack and lakehouse.
"""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

from pipeline.settings import REPO_ROOT, Settings

LOCUSTFILE = Path(__file__).resolve().with_name("locustfile.py")
# Locust's exit code when some request failed; the stats say which, so that is not the run failing.
SOME_REQUESTS_FAILED = 1
PERCENTILES = {"p50_ms": "50%", "p95_ms": "95%", "p99_ms": "99%"}


class LocustFailed(RuntimeError):
    pass


def run(settings: Settings, user_classes: tuple[str, ...], users: int, seconds: float, csv_prefix: Path,
        options: dict[str, object], exclude_tags: tuple[str, ...] = (), reset_stats: bool = False) -> dict[str, dict]:
    """`locust --headless` for `seconds` with `users` users of `user_classes` (all spawned in the first second);
    `options` are the locustfile's own (`target-rate`, `event-log`, …). Returns the stats per request type and
    name, read from the CSV locust writes to `<csv_prefix>_stats.csv`."""
    csv_prefix.parent.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), *user_classes, "--headless",
               "-u", str(users), "-r", str(users), "-t", f"{seconds:g}s", "--csv", str(csv_prefix),
               "--only-summary", "--loglevel", "WARNING"]
    for name, value in options.items():
        command += [f"--{name}", str(value)]
    if exclude_tags:
        command += ["--exclude-tags", *exclude_tags]
    if reset_stats:
        command.append("--reset-stats")
    output = csv_prefix.with_name(csv_prefix.name + "-locust.log")
    with output.open("w") as log:
        # Run from the repository: the locustfile imports `benchmarks.markers`, and locust puts the cwd on sys.path.
        finished = subprocess.run(command, cwd=REPO_ROOT, env={**settings.env, "PYTHONUNBUFFERED": "1"},
                                  stdout=log, stderr=subprocess.STDOUT, timeout=seconds + 300)
    stats_file = csv_prefix.with_name(csv_prefix.name + "_stats.csv")
    if finished.returncode not in (0, SOME_REQUESTS_FAILED) or not stats_file.is_file():
        tail = "\n".join(output.read_text(errors="replace").splitlines()[-25:])
        raise LocustFailed(f"locust exited with {finished.returncode} ({output}):\n{tail}")
    return read_stats(stats_file)


def read_stats(path: Path) -> dict[str, dict]:
    """`<type> <name>` -> requests, failures, p50/p95/p99 and max in ms, requests/s; "Aggregated" left out.

    Locust's percentiles are approximated: it rounds response times above 100 ms to two significant digits."""
    stats = {}
    with path.open(newline="") as rows:
        for row in csv.DictReader(rows):
            if row["Name"] == "Aggregated":
                continue
            stats[f"{row['Type']} {row['Name']}"] = {
                "type": row["Type"],
                "name": row["Name"],
                "requests": int(row["Request Count"]),
                "failures": int(row["Failure Count"]),
                **{key: _number(row[column]) for key, column in PERCENTILES.items()},
                "max_ms": _number(row["Max Response Time"]),
                "per_second": _number(row["Requests/s"]),
            }
    return stats


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None  # "N/A" when nothing was measured
