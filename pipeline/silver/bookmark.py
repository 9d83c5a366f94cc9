"""How far into Bronze a Silver table has read, kept in the table's own Delta commits.

Every Silver write carries, in its commit's `userMetadata`, the Bronze position it brings the
table up to: per Bronze table the Delta version read up to and, per Kafka partition, the last
offset read, plus the watermark (the latest Bronze `ingest_ts` seen). Data and bookmark land in
one commit or not at all, so a run killed at any point leaves each table either before or after
its step, never half way, and the next run starts each table where its last commit left it.

The versions let the next run read just the Bronze files committed since (Delta's change data
feed), so a run costs what is new, not what Bronze holds; the offsets say the same in Kafka's
terms, for people and for bookmarks written before versions were kept.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from delta.tables import DeltaTable
from pyspark.sql import Column, SparkSession
from pyspark.sql import functions as F

METADATA_KEY = "silver_bookmark"
# The bookmark is normally in the latest commit; an OPTIMIZE or VACUUM a user ran since sits on top.
HISTORY_LOOKBACK = 50

Offsets = dict[str, dict[int, int]]  # Bronze table name -> Kafka partition -> last offset read


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
        try:
            document = json.loads(text or "")[METADATA_KEY]
        except (ValueError, TypeError, KeyError):
            return None
        return cls(
            offsets={table: {int(p): int(o) for p, o in parts.items()} for table, parts in document["offsets"].items()},
            watermark=document["watermark"],
            versions={table: int(version) for table, version in document.get("versions", {}).items()},
        )


def read(spark: SparkSession, uri: str) -> Position | None:
    """The position the table's latest Silver commit reached; None if the table does not exist or has none."""
    if not DeltaTable.isDeltaTable(spark, uri):
        return None
    table = DeltaTable.forPath(spark, uri)
    # The latest commit first: reading 50 commits' entries on every run would be a waste.
    for lookback in (1, HISTORY_LOOKBACK):
        for commit in table.history(lookback).select("userMetadata").collect():
            position = Position.from_metadata(commit["userMetadata"])
            if position is not None:
                return position
    return None
