"""Value types shared by the generator, the validation rule and the oracle."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

CENT = Decimal("0.01")


@dataclass(frozen=True)
class Message:
    """One Kafka record; `value` holds the bytes exactly as produced, so redeliveries are byte-identical."""

    topic: str
    key: str | None
    value: bytes | None


@dataclass(frozen=True)
class Product:
    sku: str
    unit_price: Decimal


@dataclass(frozen=True)
class LineItem:
    # Optional pieces: a valid order event may still carry a malformed item, which is read leniently.
    sku: str | None
    quantity: int | None
    unit_price: Decimal | None


@dataclass(frozen=True)
class OrderEvent:
    event_id: str
    order_id: str
    user_id: str
    status: str
    currency: str
    total_amount: Decimal
    event_ts: datetime
    items: tuple[LineItem, ...] | None = None


@dataclass(frozen=True)
class PaymentEvent:
    event_id: str
    payment_id: str
    order_id: str
    status: str
    amount_cents: int
    currency: str
    event_ts: datetime

    @property
    def amount(self) -> Decimal:
        return (Decimal(self.amount_cents) / 100).quantize(CENT)


def order_total(items: tuple[LineItem, ...]) -> Decimal:
    """The contract's total: sum of quantity * unit_price over complete items."""
    complete = [item for item in items if item.unit_price is not None and item.quantity is not None]
    total = sum((item.unit_price * item.quantity for item in complete), Decimal("0"))
    return total.quantize(CENT)
