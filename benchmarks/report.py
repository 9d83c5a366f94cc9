"""The Markdown report, rendered from a run's raw JSON alone (so a kept JSON can be rendered again)."""

from __future__ import annotations

import importlib
import json
import traceback
from pathlib import Path


# A person's reading of a run, kept beside its JSON: what dominates each missed target and what would close
# it. The report links it and quotes it at the end; its figures are the run's, none of the report's come from it.
REVIEW_SUFFIX = ".review.md"


class RenderFailed(RuntimeError):
    """A section could not be rendered; the report was still written, with the error in that section."""


def render_file(json_path: Path) -> Path:
    """Write <stem>.md beside `json_path`, with its plots in <stem>/; returns the report's path.

    Raises RenderFailed (after writing the report) when a figure's section could not be rendered."""
    document = json.loads(json_path.read_text())
    plots_dir = json_path.parent / json_path.stem
    review = json_path.with_suffix(REVIEW_SUFFIX)
    text, failures = render(document, plots_dir, json_path.name,
                            review.read_text() if review.is_file() else None, review.name)
    report = json_path.with_suffix(".md")
    report.write_text(text)
    if failures:
        raise RenderFailed(f"{report}: could not render {', '.join(failures)} (see the report)")
    return report


def render(document: dict, plots_dir: Path, json_name: str, review: str | None = None,
           review_name: str = "") -> tuple[str, list[str]]:
    """The report's text and the names of the figures whose section failed to render."""
    lines = _header(document, json_name)
    if review is not None:
        after = next(i for i, line in enumerate(lines) if line.startswith("- raw figures:")) + 1
        lines.insert(after, f"- review of this run, by a person: [{review_name}]({review_name}), quoted at the end")
    failures = []
    for name, entry in document["figures"].items():
        lines += ["", f"## {entry['title']}", ""]
        if "error" in entry:
            lines += [f"**Failed** after {entry['seconds']:.0f}s: `{entry['error']}`", "", "```",
                      entry.get("traceback", "").rstrip(), "```"]
            continue
        try:
            module = importlib.import_module(f"benchmarks.{name}")
            lines.append(module.render(entry["figures"], plots_dir).rstrip())
        except Exception as error:  # one broken section must not cost the others
            failures.append(name)
            lines += [f"**Rendering failed**: `{type(error).__name__}: {error}`", "", "```",
                      traceback.format_exc().rstrip(), "```"]
        lines += ["", f"_Measured in {entry['seconds']:.0f}s (set-up included)._"]
    if review is not None:
        lines += ["", "## Review of this run", "", review.rstrip()]
    return "\n".join(lines) + "\n", failures


def _code(code: dict | None) -> list[str]:
    if not code or not code.get("commit"):
        return []  # a report from before commits were recorded, or a copy outside git
    changes = " plus uncommitted changes" if code.get("uncommitted_changes") else ""
    return [f"- code: commit {code['commit'][:12]}{changes}"]


def _header(document: dict, json_name: str) -> list[str]:
    machine = document["machine"]
    mode = ("quick (`--quick`: small sizes, short windows; a smoke test of the benchmark, not figures to quote)"
            if document["quick"] else "full")
    lines = [
        f"# Benchmark report: {document['date'][:10]}, {machine['hostname']}",
        "",
        f"- command: `{document['command']}`",
        f"- mode: {mode}",
        f"- started {document['date']}, took {document.get('seconds', 0):.0f}s in all "
        f"(stack start {document.get('stack_seconds', 0):.0f}s)",
        *_code(document.get("code")),
        f"- machine: {machine['cores']} cores, {machine['memory_gib']} GiB, {machine['cpu_model']}; {machine['os']}",
        f"- load average (1, 5, 15 min) at the start: {_load(document.get('load_average_start'))}, at the end: "
        f"{_load(document.get('load_average_end'))}",
        f"- raw figures: [{json_name}]({json_name}); every number below is rendered from it",
        "",
        "| figure | status | seconds |",
        "|---|---|---:|",
    ]
    for name, entry in document["figures"].items():
        status = "**failed**" if "error" in entry else "measured"
        lines.append(f"| {entry['title']} | {status} | {entry['seconds']:.0f} |")
    lines += ["", "| version | |", "|---|---|"]
    lines += [f"| {name} | {version} |" for name, version in document["versions"].items()]
    lines += ["", "| setting | |", "|---|---|"]
    lines += [f"| {name} | {value} |" for name, value in document["settings"].items()]
    return lines


def _load(values: list[float] | None) -> str:
    return "-" if not values else ", ".join(f"{value:.2f}" for value in values)
