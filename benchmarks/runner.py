"""`python -m benchmarks run`: an embedded stack of its own, every figure measured in turn, raw JSON, report.

The run never touches the user's lakehouse: it sets LAKEHOUSE_HOME to a home of its own (default
<repo>/.lakehouse-bench), drops any address of external services, and starts the embedded stack there on free
ports. The JSON is rewritten after each figure, so what was measured survives a failure or an interrupt.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import time
import traceback
from datetime import datetime, timezone
from pathlib import Path
from types import ModuleType

from benchmarks import provenance, report, session
from benchmarks.harness import Context
from pipeline.settings import REPO_ROOT, Settings

# In the order they run: P2 warms the Spark session, P3 leaves the large state the incremental figure reuses,
# and the memory figure reads the peaks after all the others.
FIGURES = ("producer", "bronze_ingest", "catchup", "incremental", "freshness", "bi_latency", "memory")
# Run only when named with --only: the soak alone takes over 20 minutes; partitioning compares layouts of
# Silver rather than measuring the pipeline as it is (also `python -m benchmarks.partitioning`).
EXTRA_FIGURES = ("soak", "partitioning")
DEFAULT_HOME = REPO_ROOT / ".lakehouse-bench"
REPORTS_DIR = REPO_ROOT / "benchmarks" / "reports"
FORMAT_VERSION = 1
# External services and fixed ports the user may have set: the benchmark runs on its own embedded stack.
OVERRIDES_DROPPED = ("LAKEHOUSE_URI", "KAFKA_BOOTSTRAP", "TRINO_HOST", "TRINO_PORT", "KAFKA_PORT", "TRINO_HTTP_PORT")


class FigureMissing(RuntimeError):
    pass


def load_figures(names: tuple[str, ...]) -> dict[str, ModuleType]:
    """Each figure's module, benchmarks/<name>.py, imported now: a missing one stops the run before it starts."""
    modules = {}
    for name in names:
        try:
            module = importlib.import_module(f"benchmarks.{name}")
        except ModuleNotFoundError as error:
            if error.name != f"benchmarks.{name}":
                raise
            raise FigureMissing(f"figure {name!r}: benchmarks/{name}.py does not exist; it is part of the "
                                f"benchmark (run the others with --only {' '.join(n for n in names if n != name)})"
                                ) from None
        missing = [part for part in ("TITLE", "measure", "render") if not hasattr(module, part)]
        if missing:
            raise FigureMissing(f"figure {name!r}: benchmarks/{name}.py lacks {', '.join(missing)} "
                                "(see benchmarks/harness.py)")
        modules[name] = module
    return modules


def run(names: tuple[str, ...], quick: bool, home: Path | None, command: str, log=print,
        stem: str | None = None, options: dict | None = None) -> int:
    """Measure the figures, write the JSON and the report; 0 when every figure was measured and rendered.

    `stem` names the JSON and the report (default <date>-<machine>…, see report_stem); `options` reach
    the figures as their context's options."""
    from pipeline.stack import artifacts, supervisor

    figures = load_figures(names)
    settings = _own_settings((home or DEFAULT_HOME).resolve())
    artifacts.require(settings, artifacts.KAFKA, artifacts.TRINO, artifacts.SPARK)
    started_at = datetime.now(timezone.utc)
    machine = provenance.machine()
    json_path = REPORTS_DIR / f"{stem or unused_stem(report_stem(started_at, machine['hostname'], quick, names))}.json"
    document = {
        "format": FORMAT_VERSION,
        "command": command,
        "date": started_at.isoformat(timespec="seconds"),
        "quick": quick,
        "home": str(settings.home),
        "machine": machine,
        "code": provenance.code(),
        "versions": provenance.versions(settings),
        "settings": provenance.settings_shown(settings),
        "load_average_start": provenance.load_average(),
        "figures": {},
    }
    started = time.monotonic()
    log(f"benchmarks: {', '.join(figures)}{' (quick)' if quick else ''}; LAKEHOUSE_HOME={settings.home}")
    log(f"raw figures -> {json_path}")
    failed = []
    try:
        log("== stack up")
        supervisor.up(settings, log=lambda line: log("  " + line))
        document["stack_seconds"] = time.monotonic() - started
        context = Context(settings=settings, quick=quick, work_dir=settings.home / "bench-work", log=log,
                          options=options or {})
        for number, (name, module) in enumerate(figures.items(), start=1):
            log(f"== [{number}/{len(figures)}] {name}: {module.TITLE}")
            figure_started = time.monotonic()
            entry: dict = {"title": module.TITLE}
            try:
                entry["figures"] = module.measure(context)
                if entry["figures"].get("failures"):  # a check inside the figure failed (e.g. Gold != oracle)
                    failed.append(name)
                    log(f"   FAILED: {'; '.join(map(str, entry['figures']['failures']))}")
            except Exception as error:  # recorded and reported; the other figures still run
                failed.append(name)
                entry["error"] = f"{type(error).__name__}: {error}"
                entry["traceback"] = traceback.format_exc()[-4000:]
                log(f"   FAILED: {entry['error']}")
            entry["seconds"] = time.monotonic() - figure_started
            log(f"   {name}: {entry['seconds']:.0f}s")
            document["figures"][name] = entry
            document["seconds"] = time.monotonic() - started
            document["load_average_end"] = provenance.load_average()
            _write(json_path, document)
    finally:
        session.stop()
        log("== stack down")
        supervisor.down(settings, log=lambda line: log("  " + line))
    log(f"== done in {time.monotonic() - started:.0f}s")
    try:
        report_path = report.render_file(json_path)
    except report.RenderFailed as error:
        log(f"report written with errors: {error}")
        return 1
    log(f"report: {report_path}")
    if failed:
        log(f"failed: {', '.join(failed)} (the report shows why)")
        return 1
    return 0


def report_stem(date: datetime, hostname: str, quick: bool, names: tuple[str, ...]) -> str:
    """<date>-<machine>, marked when quick or partial, so such a run never replaces a full run's report."""
    stem = date_machine(date, hostname)
    if quick:
        stem += "-quick"
    if names != FIGURES:
        stem += "-only-" + "+".join(names)
    return stem


def unused_stem(stem: str, reports_dir: Path = REPORTS_DIR) -> str:
    """`stem`, or `stem`-2, -3 … when an earlier run's report has it: a second run of a day never replaces the
    first's report (committed, perhaps), nor takes the first's review for its own."""
    def taken(name: str) -> bool:
        return any((reports_dir / f"{name}{suffix}").exists() for suffix in (".json", ".md"))

    number = 1
    candidate = stem
    while taken(candidate):
        number += 1
        candidate = f"{stem}-{number}"
    return candidate


def date_machine(date: datetime, hostname: str) -> str:
    return f"{date:%Y-%m-%d}-{_slug(hostname)}"


def _own_settings(home: Path) -> Settings:
    """Settings for the benchmark's own home and embedded stack; subprocesses (dbt, other figures) see it too."""
    os.environ["LAKEHOUSE_HOME"] = str(home)
    for name in OVERRIDES_DROPPED:
        os.environ.pop(name, None)
    home.mkdir(parents=True, exist_ok=True)
    return Settings.from_env()


def _write(path: Path, document: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".json.partial")
    partial.write_text(json.dumps(document, indent=2) + "\n")
    partial.replace(path)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-") or "machine"


def command_line(argv: list[str]) -> str:
    """The command as typed from the repository (`python -m benchmarks …`)."""
    return " ".join(["python -m benchmarks", *argv])


def flushed(line: str) -> None:
    print(line, flush=True)
