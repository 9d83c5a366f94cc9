"""Background JVM processes: start detached, wait until they answer, stop without leftovers."""

from __future__ import annotations

import ipaddress
import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable


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
    """True when pid runs and is ours: its command line carries `marker`, or it runs in a folder under it
    (Airflow's servers rewrite their command line; their working folder stays). Guards against pid reuse."""
    if not pid:
        return False
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        cwd = os.readlink(f"/proc/{pid}/cwd")
    except OSError:
        return False
    return marker.encode() in cmdline or Path(cwd).is_relative_to(marker)


def descendants(pid: int) -> list[int]:
    """The processes below `pid`, from /proc: children, their children, and so on."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError):
                continue
            children.setdefault(parent, []).append(int(entry.name))
    found, pending = [], list(children.get(pid, []))
    while pending:
        child = pending.pop()
        found.append(child)
        pending.extend(children.get(child, []))
    return found


@dataclass(frozen=True)
class Listener:
    pid: int
    address: str
    port: int

    def is_loopback(self) -> bool:
        address = ipaddress.ip_address(self.address)
        # An IPv6 socket bound to 127.0.0.1 shows as ::ffff:127.0.0.1.
        return (getattr(address, "ipv4_mapped", None) or address).is_loopback


def listeners(pids: Iterable[int]) -> list[Listener]:
    """The TCP sockets these processes listen on, from /proc/net/tcp{,6} and each process's fds."""
    listening: dict[str, tuple[str, int]] = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A":  # TCP_LISTEN
                address, port = fields[1].split(":")
                listening[fields[9]] = (_proc_address(address), int(port, 16))
    found = []
    for pid in pids:
        inodes = {link[len("socket:["):-1] for link in _fd_links(pid) if link.startswith("socket:[")}
        found.extend(Listener(pid, *listening[inode]) for inode in sorted(inodes & listening.keys()))
    return found


def _fd_links(pid: int) -> list[str]:
    links = []
    try:
        fds = list(Path(f"/proc/{pid}/fd").iterdir())
    except OSError:  # gone, or not ours to read
        return links
    for fd in fds:
        try:
            links.append(os.readlink(fd))
        except OSError:  # closed meanwhile
            pass
    return links


def _proc_address(hex_address: str) -> str:
    """/proc/net/tcp's address: 32-bit words in host (little-endian) order, 1 of them for IPv4, 4 for IPv6."""
    raw = bytes.fromhex(hex_address)
    return str(ipaddress.ip_address(b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))))


def write_private(path: Path, text: str) -> None:
    """Create `path` readable by its owner only (mode 0600 from the start, never world-readable for a moment):
    for generated passwords and keys."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(text)


def tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return "(no log)"


def start(spec: ProcessSpec, keep_open: tuple[int, ...] = ()) -> int:
    """Start the process detached, in a session of its own, and wait until it answers. It inherits the
    file descriptors `keep_open` (a lock it then holds for as long as it runs)."""
    spec.log.parent.mkdir(parents=True, exist_ok=True)
    with spec.log.open("ab") as log:
        process = subprocess.Popen(
            spec.argv, cwd=spec.cwd, env=spec.env, stdout=log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True, pass_fds=keep_open,
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
    """SIGTERM the process group, and the groups of descendants that started their own (Airflow's
    task processes do), then SIGKILL whatever is left after the grace period."""
    groups = _groups(pid)
    if not groups:
        return
    _signal_groups(groups, signal.SIGTERM)
    deadline = time.monotonic() + grace_seconds
    while time.monotonic() < deadline:
        # A descendant that started a group of its own while the tree was shutting down goes too.
        started = _groups(pid) - groups
        _signal_groups(started, signal.SIGTERM)
        groups = {group for group in groups | started if _group_alive(group)}
        if not groups:
            break
        _reap(pid)
        time.sleep(0.2)
    else:
        _signal_groups(groups, signal.SIGKILL)
    _reap(pid)


def _groups(pid: int) -> set[int]:
    groups = set()
    for member in (pid, *descendants(pid)):
        try:
            groups.add(os.getpgid(member))
        except ProcessLookupError:
            pass
    return groups


def _signal_groups(groups: set[int], signum: int) -> None:
    for group in groups:
        try:
            os.killpg(group, signum)
        except ProcessLookupError:
            pass


def _group_alive(group: int) -> bool:
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    return True


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass
