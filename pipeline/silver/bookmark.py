"""How far into Bronze a Silver table has read, kept in the table's own Delta commits.

Every Silver write carries, in its commit's `userMetadata`, the Bronze position it brings the
table up to: per Bronze table the Delta version read up to and, per Kafka partition, the last
offset read, plus the watermark (the latest Bronze `ingest_ts` seen). Data and bookmark land in
one commit or not at all, so a run killed at any point leaves each table either before or after
its step, never half way, and the next run starts each table where its last commit left it.

A table whose bookmark is broken or missing stops the run with what to do, never a guess. The
versions let the next run read just the Bronze files committed since, so a run costs what is new, not what Bronze holds; the offsets say the same in Kafka's
terms, for people and for bookmarks written before versions were kept.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from itertools import islice

from pyspark.sql import Column
from pyspark.sql import functions as F

from pipeline import deltalog
from pipeline.objectstore import LOCAL, Files

METADATA_KEY = "silver_bookmark"
REBUILD = "python -m pipeline silver --full-refresh"
# The bookmark is normally in the latest commit; an OPTIMIZE or VACUUM a user ran since sits on top.
HISTORY_LOOKBACK = 50

Offsets = dict[str, dict[int, int]]  # Bronze table name -> Kafka partition -> last offset read


class BookmarkError(RuntimeError):
    """A Silver table whose bookmark cannot be read: the next run would not know where it left off.
    Never guessed at: guessing would silently re-read or skip Bronze."""


@dataclass(frozen=True)
class Position:
    offsets: Offsets = field(default_factory=dict)
    # The latest Bronze ingest_ts at this position, ISO-8601 UTC; never decreases from one run to the next.
    watermark: str | None = None
    # Bronze table name -> the Delta version read up to; only for tables with a change data feed.
    versions: dict[str, int] = field(default_factory=dict)

    def after(self, bronze_table: str) -> Column:
        """Rows of `bronze_table` beyond this position (a partition not seen yet is read whole)."""
        seen = self.offsets.get(bronze_table, {})
        if not seen:
            return F.lit(True)
        beyond = [(F.col("partition") == partition) & (F.col("offset") > offset) for partition, offset in seen.items()]
        unseen = ~F.col("partition").isin(list(seen))
        condition = unseen
        for clause in beyond:
            condition = condition | clause
        return condition

    def to_metadata(self) -> str:
        return json.dumps({METADATA_KEY: {
            "offsets": {table: {str(p): o for p, o in sorted(parts.items())} for table, parts in self.offsets.items()},
            "watermark": self.watermark,
            "versions": self.versions,
        }}, sort_keys=True)

    @classmethod
    def from_metadata(cls, text: str | None) -> Position | None:
        """The bookmark in a commit's userMetadata; None when the metadata is not a bookmark at all (a
        commit someone else made, an OPTIMIZE say). A bookmark that is there but broken raises ValueError."""
        try:
            document = json.loads(text or "")
        except ValueError:
            return None
        if not isinstance(document, dict) or METADATA_KEY not in document:
            return None
        try:
            mark = document[METADATA_KEY]
            watermark = mark["watermark"]
            if watermark is not None and not isinstance(watermark, str):
                raise TypeError(f"watermark {watermark!r} is not a string")
            return cls(
                offsets={table: {int(p): int(o) for p, o in parts.items()} for table, parts in mark["offsets"].items()},
                watermark=watermark,
                versions={table: int(version) for table, version in mark.get("versions", {}).items()},
            )
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise ValueError(f"{type(error).__name__}: {error}") from None


def read(uri: str, files: Files = LOCAL) -> Position | None:
    """The position the table's latest Silver commit reached; None if there is no table yet.

    Read from the table's Delta log files (deltalog.py), newest commit first: usually the first one read.
    Raises BookmarkError, saying what to do, when the table is there but its bookmark is broken, or
    none of its last HISTORY_LOOKBACK commits carries one (a table this Silver did not write).
    """
    commits = []
    for commit in islice(deltalog.delta_commits(uri, files), HISTORY_LOOKBACK):
        try:
            position = Position.from_metadata(commit.user_metadata)
        except ValueError as error:
            raise BookmarkError(
                f"the Silver bookmark in commit {commit.version} of {uri} is broken ({error}; "
                f"userMetadata {commit.user_metadata!r}): rebuild the table from Bronze with `{REBUILD}`"
            ) from None
        if position is not None:
            return position
        commits.append(commit)
    if not commits:
        return None
    raise BookmarkError(
        f"{uri} holds a Delta table, but none of its last {len(commits)} commits carries a Silver bookmark (the "
        f"newest, {commits[0].version}, has userMetadata {commits[0].user_metadata!r}): Silver did not write "
        f"it, or its history was rewritten. Rebuild it from Bronze with `{REBUILD}`, or move it away first "
        "if it is someone else's")
