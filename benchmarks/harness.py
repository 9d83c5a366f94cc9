"""What every benchmark gets and gives: the run's context in, raw JSON-able figures out.

A figure lives in `benchmarks/<name>.py` and exposes

    TITLE = "P3: catch-up, Bronze -> Silver -> Gold"
    def measure(ctx: Context) -> dict        # raw figures, JSON-able; set-up is not timed
    def render(figures: dict, plots: Path) -> str   # a Markdown section; may write PNGs into `plots`

`python -m benchmarks run` calls `measure` for each figure, writes everything to one JSON file
(with machine, versions, command and date), and renders the report from that JSON alone, so a
report can be rendered again from a kept JSON without measuring anything.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from pathlib import Path

from pipeline.settings import Settings


@dataclass(frozen=True)
class Context:
    settings: Settings  # the benchmark's own LAKEHOUSE_HOME, stack up
    quick: bool  # --quick: smaller sizes and shorter windows, the whole run under 5 minutes
    work_dir: Path  # scratch space for event logs and the like (under LAKEHOUSE_HOME)
    log: Callable[[str], None] = print
    options: Mapping[str, Any] = field(default_factory=dict)  # a figure's own sizes, from its command line
