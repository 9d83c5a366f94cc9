"""Background JVM processes: start detached, wait until they answer, stop without leftovers."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable


class StackError(RuntimeError):
    """Something about the embedded stack needs the user's attention; the message says what."""


@dataclass(frozen=True)
class ProcessSpec:
    name: str
    argv: list[str]
    env: dict[str, str]
    cwd: Path
    log: Path
    ready: Callable[[], bool]
    start_timeout: float


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_is_taken(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def choose_port(configured: int, variable: str) -> int:
    if configured == 0:
        return free_port()
    if port_is_taken(configured):
        raise StackError(f"port {configured} ({variable}) is taken by another process: free it, "
                         f"or set {variable} to another port, or to 0 to pick a free one")
    return configured


def answers_tcp(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def is_alive(pid: int | None, marker: str) -> bool:
    """True when pid runs and is ours: its command line carries `marker` (guards against pid reuse)."""
    if not pid:
        return False
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return marker.encode() in cmdline


def tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return "(no log)"


def start(spec: ProcessSpec) -> int:
    spec.log.parent.mkdir(parents=True, exist_ok=True)
    with spec.log.open("ab") as log:
        process = subprocess.Popen(
            spec.argv, cwd=spec.cwd, env=spec.env, stdout=log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )
    deadline = time.monotonic() + spec.start_timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise StackError(f"{spec.name} exited with code {process.returncode} while starting; "
                             f"last lines of {spec.log}:\n{tail(spec.log)}")
        if spec.ready():
            return process.pid
        time.sleep(0.5)
    stop(process.pid)
    raise StackError(f"{spec.name} did not answer within {spec.start_timeout:.0f}s; "
                     f"last lines of {spec.log}:\n{tail(spec.log)}")


def stop(pid: int, grace_seconds: float = 30) -> None:
    """SIGTERM the process group, then SIGKILL whatever is left after the grace period."""
    try:
        group = os.getpgid(pid)
    except ProcessLookupError:
        return
    os.killpg(group, signal.SIGTERM)
    deadline = time.monotonic() + grace_seconds
    while time.monotonic() < deadline:
        try:
            os.killpg(group, 0)
        except ProcessLookupError:
            break
        _reap(pid)
        time.sleep(0.2)
    else:
        os.killpg(group, signal.SIGKILL)
    _reap(pid)


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass
