"""Each malformed kind, in each of its variants, earns its quarantine reason; together they earn every reason."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from contract import ORDER_REASONS, PAYMENT_REASONS
from simulator.malformed import HUGE_PAYLOAD_BYTES, KINDS, ORDER_SHAPE, PAYMENT_SHAPE, applies, malformed, padded
from simulator.validation import Invalid, Valid, validate_order, validate_payment
from tests.unit.simulator.reading import json_kind

ORDER_FIELDS = {
    "event_id": "0b7e8f0c-1d2e-4f3a-8b4c-5d6e7f8a9b0c",
    "order_id": "o-000001",
    "user_id": "u-00001",
    "status": "created",
    "items": [{"sku": "sku-01", "quantity": 2, "unit_price": "19.99"}],
    "currency": "USD",
    "total_amount": "39.98",
    "event_ts": "2026-11-26T10:15:42.123Z",
}
PAYMENT_FIELDS = {
    "event_id": "9a7e6d5c-4b3a-4291-8f7e-6d5c4b3a2918",
    "payment_id": None,
    "order_id": "o-000001",
    "status": "captured",
    "amount_cents": 3998,
    "currency": "USD",
    "event_ts": "2026-11-26T11:16:03.000+01:00",
}
# Money written as JSON numbers, as 15% of the generated orders have it.
NUMBER_ORDER_FIELDS = {**ORDER_FIELDS, "total_amount": Decimal("39.98"), "items": []}
ORDER = (ORDER_SHAPE, ORDER_FIELDS, validate_order)
PAYMENT = (PAYMENT_SHAPE, PAYMENT_FIELDS, validate_payment)
CASES = {"order": ORDER, "order-numbers": (ORDER_SHAPE, NUMBER_ORDER_FIELDS, validate_order), "payment": PAYMENT}
VARIANTS = 24  # more than any kind has: every variant of every kind, every field of missing_field and wrong_type


def reasons_of(kind: str, shape, fields, validate) -> list[str | None]:
    outcomes = [validate(malformed(kind, fields, shape, variant)) for variant in range(VARIANTS)]
    return [outcome.reason if isinstance(outcome, Invalid) else None for outcome in outcomes]


@pytest.mark.parametrize(
    ("kind", "case"), [(kind, case) for kind in KINDS for case in CASES if applies(kind, CASES[case][0])]
)
def test_every_variant_earns_the_kinds_reason(kind, case):
    expected = "invalid_json" if kind == "huge" else kind
    reasons = reasons_of(kind, *CASES[case])
    assert {reason.split(":")[0] if reason else None for reason in reasons} == {expected}


@pytest.mark.parametrize(
    ("case", "reasons"), [(ORDER, ORDER_REASONS), (PAYMENT, PAYMENT_REASONS)], ids=["order", "payment"]
)
def test_the_kinds_together_earn_every_reason_the_validation_knows(case, reasons):
    earned = {reason for kind in KINDS if applies(kind, case[0]) for reason in reasons_of(kind, *case)}
    assert earned == reasons


def test_payments_get_no_fraction_of_a_cent():
    assert applies("too_many_decimals", ORDER_SHAPE) and not applies("too_many_decimals", PAYMENT_SHAPE)


def test_huge_messages_stay_under_kafkas_default_limit():
    sizes = [len(malformed("huge", ORDER_FIELDS, ORDER_SHAPE, variant)) for variant in range(50)]
    assert min(sizes) > 80_000 and max(sizes) < 900 * 1024
    assert len(set(sizes)) == 50


def test_a_padded_event_is_still_valid_and_large():
    size = HUGE_PAYLOAD_BYTES[1]
    value = json.dumps(padded(ORDER_FIELDS, size)).encode()
    assert size < len(value) < 900 * 1024
    assert validate_order(value) == Valid(validate_order(json.dumps(ORDER_FIELDS).encode()).event)


def one_round(kind: str, fields, shape) -> list[bytes | None]:
    """The variants of `kind` up to the first that comes round again; fails unless the next round repeats them."""
    variants = [malformed(kind, fields, shape, n) for n in range(2 * VARIANTS)]
    period = variants.index(variants[0], 1)
    assert variants[period:2 * period] == variants[:period]
    return variants[:period]


def test_variants_are_taken_in_turn():
    # README, "Quarantine reasons": empty_message is a null value or zero bytes.
    empties = one_round("empty_message", ORDER_FIELDS, ORDER_SHAPE)
    assert len(empties) == 2 and set(empties) == {b"", None}
    # scenarios/bad_input.yaml: "JSON that is no object (array, string, number, null)", one variant each.
    kinds = [json_kind(value) for value in one_round("not_an_object", PAYMENT_FIELDS, PAYMENT_SHAPE)]
    assert sorted(kinds) == ["array", "null", "number", "string"]
