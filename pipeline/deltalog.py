"""A Delta table's log read as files (`_delta_log/<version>.json`), without Spark: local or on S3.

Silver reads its bookmarks, Bronze's latest versions and the files Bronze's commits added from here,
and `pipeline lag` its readings: each is one listing and a few small files, where Spark's DeltaTable
API builds a snapshot and a DataFrame for every question, a third of a second or more each.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone

from pipeline.objectstore import LOCAL, Files

DELTA_COMMIT_FILE = re.compile(r"^([0-9]{20})\.json$")


@dataclass(frozen=True)
class Commit:
    """A commit's commitInfo: what `DESCRIBE HISTORY` shows of it."""

    version: int
    timestamp: datetime | None
    operation: str | None
    user_metadata: str | None
    metrics: dict[str, str] = field(default_factory=dict)  # operationMetrics, as Delta writes them (strings)


def versions(table_uri: str, files: Files = LOCAL) -> list[int]:
    """The versions of the table's commits, newest first; none when there is no table."""
    log = f"{table_uri}/_delta_log"
    return sorted((int(m[1]) for name in files.names(log) or () if (m := DELTA_COMMIT_FILE.match(name))),
                  reverse=True)


def commit_texts(table_uri: str, files: Files = LOCAL) -> Iterator[tuple[int, str]]:
    """(version, the commit file's text) of the table's commits, newest first, each read when it is reached;
    none when there is no table."""
    for version in versions(table_uri, files):
        yield version, files.text(f"{table_uri}/_delta_log/{version:020d}.json")


def delta_commits(table_uri: str, files: Files = LOCAL) -> Iterator[Commit]:
    """The table's commits, newest first, each read when it is reached; none when there is no table."""
    for version, text in commit_texts(table_uri, files):
        yield parse_commit(version, text)


def latest_version(table_uri: str, files: Files = LOCAL) -> int | None:
    return next(iter(versions(table_uri, files)), None)


def latest_commit(table_uri: str, files: Files = LOCAL) -> Commit | None:
    return next(delta_commits(table_uri, files), None)


def size_bytes(table_uri: str, files: Files = LOCAL) -> int | None:
    """The size of the table's data files at its latest version, from the checksum Delta writes beside the
    commit (`<version>.crc`, `tableSizeBytes`); None when there is no table or that version has no checksum."""
    try:
        return int(_latest_checksum(table_uri, files)["tableSizeBytes"])
    except (FileNotFoundError, ValueError, KeyError, TypeError):
        return None


def properties(table_uri: str, files: Files = LOCAL) -> dict[str, str] | None:
    """The table's properties (TBLPROPERTIES: its metadata's `configuration`) at its latest version, from that
    version's checksum; None when there is no table or that version has no checksum."""
    try:
        return dict(_latest_checksum(table_uri, files)["metadata"].get("configuration") or {})
    except (FileNotFoundError, ValueError, KeyError, TypeError, AttributeError):
        return None


def _latest_checksum(table_uri: str, files: Files) -> dict:
    """The checksum of the table's latest version; FileNotFoundError when there is no table or no checksum."""
    version = latest_version(table_uri, files)
    if version is None:
        raise FileNotFoundError(f"no Delta table at {table_uri}")
    return json.loads(files.text(f"{table_uri}/_delta_log/{version:020d}.crc"))


def parse_commit(version: int, text: str) -> Commit:
    """One Delta commit file (one JSON action per line) -> its commitInfo."""
    for line in text.splitlines():
        if '"commitInfo"' in line:
            info = json.loads(line).get("commitInfo") or {}
            millis = info.get("timestamp")
            return Commit(
                version=version,
                timestamp=None if millis is None else datetime.fromtimestamp(millis / 1000, timezone.utc),
                operation=info.get("operation"),
                user_metadata=info.get("userMetadata"),
                metrics=info.get("operationMetrics") or {},
            )
    return Commit(version, None, None, None)


def added_data_files(table_uri: str, first: int, last: int, files: Files = LOCAL) -> list[str] | None:
    """The URIs of the data files that commits `first`..`last` added with new data (`dataChange`: not
    what OPTIMIZE rewrote); None when one of those commit files is gone (the log was cleaned up), or one of
    those data files (compacted, then vacuumed with a retention shorter than the reader's lag)."""
    log = f"{table_uri}/_delta_log"
    paths = []
    for version in range(first, last + 1):
        try:
            text = files.text(f"{log}/{version:020d}.json")
        except FileNotFoundError:
            return None
        for line in text.splitlines():
            added = json.loads(line).get("add") if '"add"' in line else None
            if added is not None and added.get("dataChange", True):
                paths.append(f"{table_uri}/{added['path']}")
    if not all(files.exists(path) for path in paths):
        return None
    return paths
