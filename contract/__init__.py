"""CONTRACT.md's constants: the fields, statuses, limits and quarantine reasons of the two event kinds.

The one place they are written. Both validators import them: the Spark expression in
pipeline/silver/validation.py and the pure-Python oracle's in simulator/validation.py (the parity
test holds the two to the same verdict). Plain Python, no pyspark, so the simulator can use it.
"""

from __future__ import annotations

from decimal import Decimal

ORDER_FIELDS = ("event_id", "order_id", "user_id", "status", "currency", "total_amount", "event_ts")
PAYMENT_FIELDS = ("event_id", "order_id", "status", "amount_cents", "currency", "event_ts")
# Optional fields, checked for type when present.
ORDER_OPTIONAL = ("items",)
PAYMENT_OPTIONAL = ("payment_id",)
ORDER_STATUSES = ("created", "updated", "cancelled")
PAYMENT_STATUSES = ("authorized", "captured", "failed", "refunded")
# Fields that must be JSON strings when present.
STRING_FIELDS = ("event_id", "order_id", "user_id", "payment_id", "status", "currency", "event_ts")

# A money value must fit decimal(18, 2): at most 16 digits before the point, and amount_cents at most
# 18 digits in all.
MAX_INTEGER_DIGITS = 16
MAX_AMOUNT_CENTS = 999_999_999_999_999_999
# decimal(18, 2)'s largest value. An order's paid_amount, a sum of payments, is capped at it: two payments
# can add up to more than the column holds, and any such sum pays any order in full anyway.
MAX_MONEY = Decimal(10**MAX_INTEGER_DIGITS) - Decimal("0.01")
# The digits a JSON number may have, in all and after the point, to be read as a decimal (Spark's decimal(38)).
MAX_DECIMAL_DIGITS = 38
# Arrays and objects nested deeper than this are not accepted as JSON (the events nest 3 deep); a
# fixed limit keeps both sides deterministic where their parsers' own limits differ.
MAX_JSON_DEPTH = 64

SHARED_REASONS = (
    "empty_message",
    "invalid_utf8",
    "invalid_json",
    "not_an_object",
    "unknown_status",
    "invalid_currency",
    "event_ts_without_zone",
    "invalid_event_ts",
)
# Every reason a message can be quarantined for, per topic.
ORDER_REASONS = frozenset({
    *SHARED_REASONS,
    *(f"missing_field:{name}" for name in ORDER_FIELDS),
    *(f"wrong_type:{name}" for name in (*ORDER_FIELDS, *ORDER_OPTIONAL)),
    "negative_amount:total_amount",
    "too_many_decimals:total_amount",
    "amount_out_of_range:total_amount",
})
PAYMENT_REASONS = frozenset({
    *SHARED_REASONS,
    *(f"missing_field:{name}" for name in PAYMENT_FIELDS),
    *(f"wrong_type:{name}" for name in (*PAYMENT_FIELDS, *PAYMENT_OPTIONAL)),
    "negative_amount:amount_cents",
    "amount_out_of_range:amount_cents",
})
