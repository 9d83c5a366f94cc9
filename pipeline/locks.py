"""One at a time: one writer per layer of a lakehouse, one fetch into the JVM cache, one start of a stack.

The locks are `flock`s on files: the kernel releases one when its holder ends, however it ends (a
SIGKILL too), so a crashed run never leaves a stale lock behind. Each file names its holder, for the
message of whoever finds it taken. They guard one machine: two machines writing one S3 lakehouse are
not covered.
"""

from __future__ import annotations

import fcntl
import os
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import datetime, timezone
from pathlib import Path

from pipeline.settings import Settings

# In the order they are taken, so that two commands taking several never wait on each other in a cycle.
LAYERS = ("bronze", "silver", "gold")


class Busy(RuntimeError):
    """What the caller needs is held by another process; the message names it and what to do."""


def holder(path: Path) -> str:
    try:
        text = path.read_text().strip()
    except FileNotFoundError:
        text = ""
    return text or "another process"


@contextmanager
def holding(path: Path, what: str, wait: bool = False, shared: bool = False, log=print) -> Iterator[int]:
    """Hold the lock `path` for the block; yields its file descriptor. Taken: raise Busy, or with
    `wait`, say who holds it and wait. A `shared` lock admits other shared holders, not an exclusive one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    mode = fcntl.LOCK_SH if shared else fcntl.LOCK_EX
    try:
        try:
            fcntl.flock(descriptor, mode | fcntl.LOCK_NB)
        except BlockingIOError:
            if not wait:
                raise Busy(f"{what} is in use by {holder(path)}; wait until it ends, or stop it") from None
            log(f"  {what} is in use by {holder(path)}; waiting …")
            fcntl.flock(descriptor, mode)
        if not shared:
            os.ftruncate(descriptor, 0)
            os.write(descriptor, _describe_self().encode())
        yield descriptor
    finally:
        os.close(descriptor)


def _describe_self() -> str:
    program = Path(sys.argv[0]) if sys.argv and sys.argv[0] else Path("python")
    command = f"python -m {program.parent.name}" if program.name == "__main__.py" else program.name
    since = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    return f"pid {os.getpid()} (`{' '.join([command, *sys.argv[1:]])}`, since {since})\n"


def layer_lock(settings: Settings, layer: str) -> Path:
    return settings.home / "locks" / f"{layer}.lock"


@contextmanager
def writing(settings: Settings, *layers: str) -> Iterator[None]:
    """Be the only writer of these layers of the lakehouse under LAKEHOUSE_HOME, or raise Busy."""
    with ExitStack() as stack:
        for layer in sorted(layers, key=LAYERS.index):
            stack.enter_context(holding(layer_lock(settings, layer), f"the {layer} layer of {settings.home}"))
        yield



def commit_lock(settings: Settings, layer: str) -> Path:
    return settings.home / "locks" / f"{layer}-commits.lock"


@contextmanager
def committing(settings: Settings, layer: str, log=print) -> Iterator[None]:
    """Hold the layer's commit lock for the block, waiting for it if need be.

    Held around each step that commits to the layer's tables besides appending (Silver's MERGEs, Gold's dbt
    swap) and by `maintain` around its work on them: OPTIMIZE can conflict with a MERGE and rewrites what
    dbt is about to drop, so the two take turns. The layer lock (`writing`) stays with its writer for as
    long as it runs (`pipeline run` holds all three), so maintenance cannot use that one. Bronze's
    streaming appends take none: compaction never conflicts with a blind append."""
    with holding(commit_lock(settings, layer), f"the {layer} commit lock of {settings.home}", wait=True, log=log):
        yield


def maintenance_lock(settings: Settings) -> Path:
    return settings.home / "locks" / "maintain.lock"
