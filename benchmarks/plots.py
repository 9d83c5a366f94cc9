"""PNG charts for the report (matplotlib, headless), each saved beside the report and linked from it."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

BASELINE_COLOUR = "#9e9e9e"
PIPELINE_COLOUR = "#1f77b4"
LOG_SCALE_SPAN = 20
LAYER_COLOURS = {"bronze": "#cd7f32", "silver": "#8c9aa6", "register": "#6a5acd", "gold": "#d4a017"}


def pyplot():
    import matplotlib

    matplotlib.use("Agg")  # no display here; must come before pyplot is imported
    import matplotlib.pyplot as plt

    return plt


def save(figure, plots: Path, filename: str, alt: str) -> str:
    """Write `figure` as plots/filename and return the Markdown that shows it (relative to the report)."""
    plots.mkdir(parents=True, exist_ok=True)
    figure.tight_layout()
    figure.savefig(plots / filename, dpi=110)
    pyplot().close(figure)
    return f"![{alt}]({plots.name}/{filename})"


def bars(plots: Path, filename: str, title: str, unit: str, labels: Sequence[str], values: Sequence[float],
         baseline: Sequence[bool], target: float | None = None, target_label: str = "") -> str:
    """Horizontal bars, baselines in grey, each bar with its value written at its end; a logarithmic axis
    when the values span more than LOG_SCALE_SPAN (a baseline 100x faster would hide the other bars)."""
    plt = pyplot()
    figure, axes = plt.subplots(figsize=(7.5, 0.55 * len(labels) + 1.3))
    colours = [BASELINE_COLOUR if is_baseline else PIPELINE_COLOUR for is_baseline in baseline]
    positions = range(len(labels))
    axes.barh(positions, values, color=colours)
    positive = [value for value in values if value > 0]
    if positive and max(positive) / min(positive) > LOG_SCALE_SPAN:
        axes.set_xscale("log")
        unit += " (log scale)"
    if target is not None:
        axes.axvline(target, color="#d62728", linestyle="--", linewidth=1, label=target_label)
        axes.legend(fontsize=8, loc="lower right")
    axes.set_yticks(list(positions), labels)
    axes.invert_yaxis()
    axes.set_xlabel(unit)
    axes.set_title(title)
    for position, value in zip(positions, values):
        axes.text(value, position, f" {value:,.0f}", va="center", fontsize=8)
    axes.margins(x=0.18)
    return save(figure, plots, filename, title)


def stacked_layers(plots: Path, filename: str, title: str, labels: Sequence[str],
                   layers: Sequence[dict[str, float]], baseline: Sequence[float] | None = None,
                   baseline_label: str = "") -> str:
    """One bar per label, stacked by pipeline layer (seconds), with an optional grey baseline bar beside each."""
    plt = pyplot()
    figure, axes = plt.subplots(figsize=(7.5, 4))
    width = 0.38 if baseline else 0.6
    positions = list(range(len(labels)))
    bottoms = [0.0] * len(labels)
    for layer, colour in LAYER_COLOURS.items():
        heights = [seconds.get(layer, 0.0) for seconds in layers]
        axes.bar([p - (width / 2 if baseline else 0) for p in positions], heights, width, bottom=bottoms,
                 label=layer, color=colour)
        bottoms = [b + h for b, h in zip(bottoms, heights)]
    if baseline:
        axes.bar([p + width / 2 for p in positions], baseline, width, label=baseline_label, color=BASELINE_COLOUR)
    axes.set_xticks(positions, labels)
    axes.set_ylabel("seconds")
    axes.set_title(title)
    axes.legend(fontsize=8)
    return save(figure, plots, filename, title)
