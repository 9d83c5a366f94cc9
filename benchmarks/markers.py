"""Marker orders: one fully paid order each, with an id of its own, whose arrival in Gold measures freshness.

A marker is an order `created` event and a `captured` payment of its whole amount, both stamped with
the moment they are sent, so the order is fully paid from its first Silver run on and shows in
`gold.fct_sales_minute.paid_order_ids` as soon as the pipeline has carried it through. Freshness is
the time from sending it to seeing it there through Trino. Markers are ordinary events (CONTRACT.md):
they go into the load test's event log and the oracle counts them like any other order.

The marker log (JSON Lines) says when each marker was sent and when it was seen:
{"order_id": "m-…", "produced_at": <epoch s>} and later {"order_id": "m-…", "seen_at": <epoch s>}.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Collection
from datetime import datetime, timezone
from pathlib import Path

from simulator.jsontext import to_json
from simulator.model import Message

PREFIX = "m-"
PRICE = "1.00"
GOLD_FACT = "delta.gold.fct_sales_minute"


def marker_messages(order_id: str, at: datetime, order_topic: str, payment_topic: str) -> list[Message]:
    """The order's `created` event and a captured payment of its total, both at `at` (UTC), keyed by the order."""
    event_ts = at.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    order = {"event_id": str(uuid.uuid4()), "order_id": order_id, "user_id": "u-marker", "status": "created",
             "items": [{"sku": "sku-marker", "quantity": 1, "unit_price": PRICE}], "currency": "USD",
             "total_amount": PRICE, "event_ts": event_ts}
    payment = {"event_id": str(uuid.uuid4()), "payment_id": "p" + order_id, "order_id": order_id,
               "status": "captured", "amount_cents": 100, "currency": "USD", "event_ts": event_ts}
    return [Message(order_topic, order_id, to_json(order).encode("utf-8")),
            Message(payment_topic, order_id, to_json(payment).encode("utf-8"))]


def seen_in_gold(cursor, order_ids: Collection[str], since: datetime) -> set[str]:
    """The markers among `order_ids` that Gold counts; `since` (the oldest marker's send time) prunes the minutes.

    `cursor` is a Trino DB-API cursor. The ids are the load test's own (`m-<run>-<n>`), written as literals.
    """
    if not order_ids:
        return set()
    literals = ", ".join("'" + order_id.replace("'", "''") + "'" for order_id in sorted(order_ids))
    first_minute = since.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:00")
    cursor.execute(f"SELECT counted.order_id FROM {GOLD_FACT} CROSS JOIN UNNEST(paid_order_ids) AS counted (order_id) "
                   f"WHERE minute_bucket >= TIMESTAMP '{first_minute} UTC' AND counted.order_id IN ({literals})")
    return {row[0] for row in cursor.fetchall()}


class MarkerLog:
    """Appends to a marker log, one flushed line per event, so a reader sees every marker sent so far."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = path.open("a", encoding="utf-8")

    def produced(self, order_id: str, at: float) -> None:
        self._write({"order_id": order_id, "produced_at": at})

    def seen(self, order_id: str, at: float) -> None:
        self._write({"order_id": order_id, "seen_at": at})

    def close(self) -> None:
        self._file.close()

    def _write(self, record: dict) -> None:
        self._file.write(json.dumps(record) + "\n")
        self._file.flush()


def read(path: Path) -> dict[str, dict[str, float | None]]:
    """order id -> {"produced_at": epoch s, "seen_at": epoch s or None}, for every marker sent."""
    markers: dict[str, dict[str, float | None]] = {}
    if not path.is_file():
        return markers
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        record = json.loads(line)
        entry = markers.setdefault(record["order_id"], {"produced_at": None, "seen_at": None})
        for key in ("produced_at", "seen_at"):
            if key in record and entry[key] is None:
                entry[key] = record[key]
    return {order_id: entry for order_id, entry in markers.items() if entry["produced_at"] is not None}
