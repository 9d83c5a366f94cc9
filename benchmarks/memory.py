"""Peak resident memory (VmHWM) of the Kafka JVM, the Trino JVM, the Spark driver JVM and the Python driver.

VmHWM is a process's high-water mark since it started, so reading it once, after the heavy figures, gives
the peak over all of them. The stack's JVMs are found through its state file, the Spark driver JVM among
this process's descendants; the Python driver is this process (big event logs and the DuckDB baseline run
in child processes of their own, so they do not count here).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from benchmarks import plots
from benchmarks.harness import Context

TITLE = "Peak RSS of each JVM and of the Python driver"
PROC = Path("/proc")


def measure(ctx: Context) -> dict:
    state = json.loads(ctx.settings.state_file.read_text())
    processes = {
        "Kafka JVM": state.get("kafka", {}).get("pid"),
        "Trino JVM": state.get("trino", {}).get("pid"),
        "Spark driver JVM": spark_driver_pid(),
        "Python driver": os.getpid(),
    }
    return {"processes": {name: {"pid": pid, **(memory_of(pid) if pid else {})} for name, pid in processes.items()}}


def memory_of(pid: int) -> dict:
    """Peak and current resident memory of `pid`, in MiB, from /proc/<pid>/status; {} when it is gone."""
    try:
        status = (PROC / str(pid) / "status").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return {}
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    kib = {name: int(fields[name].split()[0]) for name in ("VmHWM", "VmRSS") if name in fields}
    return {"peak_mib": kib.get("VmHWM", 0) / 1024, "current_mib": kib.get("VmRSS", 0) / 1024}


def spark_driver_pid(root: int | None = None) -> int | None:
    """The JVM pyspark started for the SparkSession of process `root` (default: this one), a descendant
    running SparkSubmit, if any."""
    children: dict[int, list[int]] = {}
    for entry in PROC.iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (FileNotFoundError, ProcessLookupError, IndexError):
                continue
            children.setdefault(parent, []).append(int(entry.name))
    pending = list(children.get(os.getpid() if root is None else root, []))
    while pending:
        pid = pending.pop()
        try:
            command = (PROC / str(pid) / "cmdline").read_bytes().split(b"\0")
        except (FileNotFoundError, ProcessLookupError):
            continue
        if command and command[0].endswith(b"java") and b"org.apache.spark.deploy.SparkSubmit" in command:
            return pid
        pending.extend(children.get(pid, []))
    return None


def render(figures: dict, plots_dir: Path) -> str:
    processes = figures["processes"]
    table = ["| process | pid | peak RSS MiB (VmHWM) | RSS at the end MiB |", "|---|---:|---:|---:|"]
    measured = {}
    for name, process in processes.items():
        if "peak_mib" in process:
            measured[name] = process["peak_mib"]
            table.append(f"| {name} | {process['pid']} | {process['peak_mib']:,.0f} | {process['current_mib']:,.0f} |")
        else:
            table.append(f"| {name} | {process['pid'] or '-'} | not running | |")
    chart = plots.bars(plots_dir, "memory-peak-rss.png", "Peak RSS", "MiB", list(measured),
                       list(measured.values()), [False] * len(measured)) if measured else ""
    return "\n".join([
        "Read from /proc/<pid>/status after the figures before it in this run; VmHWM is each process's peak "
        "since it started. Heaps are bounded by KAFKA_HEAP, TRINO_HEAP and SPARK_DRIVER_MEMORY (see the "
        "settings in the header).",
        "",
        *table,
        "",
        chart,
    ])
