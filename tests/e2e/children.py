"""`python -m pipeline ...` in child processes that a test can SIGKILL, JVMs included, and know are gone."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from pipeline.settings import REPO_ROOT, Settings

RUN_TIMEOUT_SECONDS = 300


def start(settings: Settings, log: Path, *args: str) -> subprocess.Popen:
    """`python -m pipeline ARGS` with the settings' environment, in a process group of its own (its JVM
    joins it), output appended to `log`."""
    with log.open("ab") as output:
        return subprocess.Popen([sys.executable, "-m", "pipeline", *args], cwd=REPO_ROOT, env=settings.env,
                                stdout=output, stderr=subprocess.STDOUT, start_new_session=True)


def run(settings: Settings, log: Path, *args: str) -> None:
    """`python -m pipeline ARGS` to the end; it must succeed."""
    process = start(settings, log, *args)
    try:
        code = process.wait(RUN_TIMEOUT_SECONDS)
    finally:
        kill(process)
    assert code == 0, f"`python -m pipeline {' '.join(args)}` exited {code}:\n{log.read_text()[-4000:]}"


def kill(process: subprocess.Popen) -> None:
    """SIGKILL the process group (a no-op once it is gone) and wait until none of it is left."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait()
    deadline = time.monotonic() + 30
    while group_members(process.pid):
        assert time.monotonic() < deadline, f"processes left in group {process.pid}: {group_members(process.pid)}"
        time.sleep(0.1)


def group_members(group: int) -> list[int]:
    """Live (not zombie) processes in the process group."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        fields = _stat(stat)
        if fields and int(fields[2]) == group and fields[0] != "Z":
            members.append(int(stat.parent.name))
    return members


def is_running(pid: int) -> bool:
    """The process exists and is not a zombie its parent has yet to reap."""
    fields = _stat(Path(f"/proc/{pid}/stat"))
    return bool(fields) and fields[0] != "Z"


def _stat(path: Path) -> list[str]:
    """The fields of /proc/PID/stat after the command name: state, parent, group, …; [] once it is gone."""
    try:
        return path.read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return []
