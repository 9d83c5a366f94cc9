"""Unit tests of the per-message validation rule: one hand-written message per reason, plus the valid shapes."""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from simulator.model import LineItem, OrderEvent, PaymentEvent
from simulator.validation import Invalid, Valid, validate_order, validate_payment
from tests.messages import DROP, Raw, order, payment


def reason_of(outcome: Valid | Invalid) -> str | None:
    return outcome.reason if isinstance(outcome, Invalid) else None


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=timezone.utc)


# -- valid messages ------------------------------------------------------------------------


def test_valid_order_with_string_money_is_parsed():
    assert validate_order(order()) == Valid(
        OrderEvent(
            event_id="e-1",
            order_id="o-1",
            user_id="u-1",
            status="created",
            currency="USD",
            total_amount=Decimal("39.98"),
            event_ts=utc(2026, 11, 26, 10, 15, 42, 123000),
            items=(LineItem("sku-17", 2, Decimal("19.99")),),
        )
    )


def test_valid_order_with_number_money_keeps_exact_decimals():
    outcome = validate_order(order(total_amount=Raw("39.98"), items=DROP))
    assert outcome.event.total_amount == Decimal("39.98")
    assert str(outcome.event.total_amount) == "39.98"
    assert outcome.event.items is None


@pytest.mark.parametrize(
    ("written", "parsed"),
    [
        (Raw("40"), "40.00"),
        (Raw("-0.00"), "0.00"),
        ("7.5", "7.50"),
        ("0012.30", "12.30"),
        (Raw("9999999999999999.99"), "9999999999999999.99"),
        # Decimals are judged by value: trailing zeros do not make a fraction of a cent.
        ("39.980", "39.98"),
        (Raw("39.980"), "39.98"),
        ("1.230000000000000000000000000000000000000000", "1.23"),
        (Raw("40.000"), "40.00"),
        ("0000000000000000.50", "0.50"),
    ],
)
def test_money_is_held_with_two_decimals(written, parsed):
    assert str(validate_order(order(total_amount=written)).event.total_amount) == parsed


@pytest.mark.parametrize(
    ("written", "instant"),
    [
        ("2026-11-26T11:15:42.123+01:00", utc(2026, 11, 26, 10, 15, 42, 123000)),
        ("2026-11-26T05:15:42-05:00", utc(2026, 11, 26, 10, 15, 42)),
        ("2026-11-27T04:15:42+18:00", utc(2026, 11, 26, 10, 15, 42)),
        ("2026-11-26T10:15:42.123456789Z", utc(2026, 11, 26, 10, 15, 42, 123456)),
        ("2026-11-26T10:15:42.999999999+00:00", utc(2026, 11, 26, 10, 15, 42, 999999)),
        ("2024-02-29T23:59:59.5Z", utc(2024, 2, 29, 23, 59, 59, 500000)),
    ],
)
def test_event_ts_is_converted_to_utc_and_truncated_to_microseconds(written, instant):
    event_ts = validate_order(order(event_ts=written)).event.event_ts
    assert event_ts == instant
    assert event_ts.utcoffset().total_seconds() == 0


def test_valid_payment_is_parsed_with_amount_in_currency_units():
    assert validate_payment(payment()) == Valid(
        PaymentEvent(
            event_id="e-9",
            payment_id="p-1",
            order_id="o-1",
            status="captured",
            amount_cents=3998,
            currency="USD",
            event_ts=utc(2026, 11, 26, 10, 16, 3),
        )
    )
    assert validate_payment(payment()).event.amount == Decimal("39.98")
    assert str(validate_payment(payment(amount_cents=Raw("5"))).event.amount) == "0.05"


@pytest.mark.parametrize("missing", [DROP, None])
def test_missing_payment_id_gets_the_synthetic_id(missing):
    expected_key = "o-1|3998|USD|2026-11-26T10:15:42.123456Z"
    expected_id = "syn-" + hashlib.sha256(expected_key.encode()).hexdigest()[:24]
    # The same instant written with an offset and nanoseconds hashes to the same id.
    outcome = validate_payment(payment(payment_id=missing, event_ts="2026-11-26T11:15:42.123456789+01:00"))
    assert outcome.event.payment_id == expected_id
    plain = validate_payment(payment(payment_id=DROP, event_ts="2026-11-26T10:15:42.123456Z"))
    assert plain.event.payment_id == expected_id


def test_an_escaped_surrogate_pair_is_one_character():
    assert validate_payment(payment(order_id="o-\U0001f600")).event.order_id == "o-\U0001f600"


def test_synthetic_id_differs_per_amount_and_instant():
    ids = {
        validate_payment(payment(payment_id=DROP, **changes)).event.payment_id
        for changes in (
            {},
            {"amount_cents": Raw("3997")},
            {"event_ts": "2026-11-26T10:16:03.001Z"},
            {"order_id": "o-2"},
        )
    }
    assert len(ids) == 4


def test_items_are_read_leniently():
    items = [
        {"sku": "a", "quantity": 1.5, "unit_price": "1.234"},
        {"quantity": 2, "unit_price": 3.5},
        "junk",
        {"sku": 17, "quantity": "2", "unit_price": "19.990"},
    ]
    assert validate_order(order(items=items)).event.items == (
        LineItem("a", None, None),
        LineItem(None, 2, Decimal("3.50")),
        LineItem(None, None, None),
        LineItem(None, None, Decimal("19.99")),
    )


def test_unknown_fields_are_ignored():
    assert isinstance(validate_order(order(channel="web", coupon=None)), Valid)


@pytest.mark.parametrize("written", [Raw("3998.0"), Raw("3998.000"), Raw("3998")])
def test_whole_cents_written_with_a_fraction_are_integral(written):
    assert validate_payment(payment(amount_cents=written)).event.amount_cents == 3998


# -- one test per reason, in the order the checks run --------------------------------------------


@pytest.mark.parametrize("value", [None, b""])
def test_empty_message(value):
    assert reason_of(validate_order(value)) == "empty_message"
    assert reason_of(validate_payment(value)) == "empty_message"


def test_invalid_utf8():
    assert reason_of(validate_order(b'{"event_id": "\xff"}')) == "invalid_utf8"


@pytest.mark.parametrize(
    "value",
    [
        b'{"event_id": "e-1"',
        b"not json",
        b" ",
        b'{"total_amount": NaN}',
        b'{"total_amount": Infinity}',
        b'{"total_amount": -Infinity}',
        b'{"event_id": "e-1", "event_id": "e-2"}',
        b'{"items": [{"sku": "a", "sku": "b"}]}',
        b"\xef\xbb\xbf{}",
        b"{} x",
        b"{}{}",
        b"{}\x00",
        b'{"order_id": "o-\\ud800"}',
        b'{"\\udc00": 1}',
        b'{"items": ["\\ude00\\ud83d"]}',
        b"[" * 65 + b"]" * 65,
        b'{"x": ' + b'{"y": ' * 64 + b"1" + b"}" * 65,
    ],
)
def test_invalid_json(value):
    assert reason_of(validate_order(value)) == "invalid_json"


@pytest.mark.parametrize("value", [b"[]", b'"text"', b"42", b"null", b"true", b"[" * 64 + b"]" * 64])
def test_not_an_object(value):
    assert reason_of(validate_payment(value)) == "not_an_object"


@pytest.mark.parametrize("blank", [DROP, None, "", "  \t\n"])
def test_missing_field(blank):
    assert reason_of(validate_order(order(user_id=blank))) == "missing_field:user_id"
    assert reason_of(validate_payment(payment(amount_cents=blank))) == "missing_field:amount_cents"


def test_missing_field_follows_the_contract_order_and_precedes_type_checks():
    assert reason_of(validate_order(order(event_id=7, currency=None, status=DROP))) == "missing_field:status"
    assert reason_of(validate_payment(payment(event_ts="", order_id=None))) == "missing_field:order_id"


@pytest.mark.parametrize("name", ["event_id", "order_id", "user_id", "status", "currency", "event_ts"])
def test_wrong_type_of_a_string_field(name):
    assert reason_of(validate_order(order(**{name: Raw("12")}))) == f"wrong_type:{name}"


def test_wrong_type_follows_the_contract_order():
    assert reason_of(validate_order(order(event_ts=1, order_id=True, total_amount="x"))) == "wrong_type:order_id"


@pytest.mark.parametrize(
    "written",
    [
        Raw("3.998e1"),
        Raw("4E1"),
        Raw("4e0"),
        Raw("1" * 39),
        Raw("1." + "0" * 38),
        Raw("0." + "0" * 38 + "1"),
        "3.998e1",
        "12.",
        ".5",
        " 12",
        "12\n",
        "+12",
        "12,50",
        "１２",
        Raw("true"),
        [1],
    ],
)
def test_wrong_type_total_amount(written):
    assert reason_of(validate_order(order(total_amount=written))) == "wrong_type:total_amount"


@pytest.mark.parametrize(
    "written",
    ["3998", Raw("3998.5"), Raw("3998.01"), Raw("4e3"), Raw("9" * 39), Raw("9" * 500), Raw("true"), Raw("{}")],
)
def test_wrong_type_amount_cents(written):
    assert reason_of(validate_payment(payment(amount_cents=written))) == "wrong_type:amount_cents"


def test_wrong_type_payment_id_and_items():
    assert reason_of(validate_payment(payment(payment_id=Raw("17")))) == "wrong_type:payment_id"
    assert reason_of(validate_order(order(items={"sku": "a"}))) == "wrong_type:items"


@pytest.mark.parametrize("written", ["-0.01", Raw("-5"), "-1.234"])
def test_negative_amount_total(written):
    assert reason_of(validate_order(order(total_amount=written))) == "negative_amount:total_amount"


def test_negative_amount_cents():
    assert reason_of(validate_payment(payment(amount_cents=Raw("-1")))) == "negative_amount:amount_cents"
    assert validate_payment(payment(amount_cents=Raw("-0"))).event.amount_cents == 0


@pytest.mark.parametrize("written", ["39.985", Raw("39.985"), "0.001", "1.2300001", Raw("1.230000001")])
def test_too_many_decimals(written):
    assert reason_of(validate_order(order(total_amount=written))) == "too_many_decimals:total_amount"


@pytest.mark.parametrize(
    "written",
    [
        "12345678901234567",
        Raw("10000000000000000.00"),
        Raw("12345678901234567"),
        # A string's integer digits are counted as written, leading zeros included.
        "00000000000000001",
        "00000000000000000.5",
    ],
)
def test_amount_out_of_range_total(written):
    assert reason_of(validate_order(order(total_amount=written))) == "amount_out_of_range:total_amount"


@pytest.mark.parametrize("written", [Raw("1000000000000000000"), Raw("1000000000000000000.0"), Raw("9" * 38)])
def test_amount_out_of_range_cents(written):
    assert reason_of(validate_payment(payment(amount_cents=written))) == "amount_out_of_range:amount_cents"


def test_largest_amounts_are_in_range():
    assert validate_order(order(total_amount="9999999999999999")).event.total_amount == Decimal("9999999999999999.00")
    largest_payment = validate_payment(payment(amount_cents=Raw("999999999999999999")))
    assert largest_payment.event.amount == Decimal("9999999999999999.99")


@pytest.mark.parametrize("status", ["Created", "paid", "captured", " created"])
def test_unknown_order_status(status):
    assert reason_of(validate_order(order(status=status))) == "unknown_status"


def test_unknown_payment_status():
    assert reason_of(validate_payment(payment(status="created"))) == "unknown_status"


@pytest.mark.parametrize("currency", ["usd", "US", "USDD", "US1", "ＵＳＤ", "USD\n"])
def test_invalid_currency(currency):
    assert reason_of(validate_order(order(currency=currency))) == "invalid_currency"


@pytest.mark.parametrize("written", ["2026-11-26T10:15:42", "2026-11-26T10:15:42.123", "2026-02-30T10:15:42"])
def test_event_ts_without_zone(written):
    assert reason_of(validate_payment(payment(event_ts=written))) == "event_ts_without_zone"


@pytest.mark.parametrize(
    "written",
    [
        "2026-11-26 10:15:42Z",
        "2026-11-26T10:15Z",
        "2026-11-26T10:15:42.1234567890Z",
        "2026-11-26T10:15:42z",
        "2026-11-26T10:15:42+0100",
        "2026-02-30T10:15:42Z",
        "2026-11-26T24:00:00Z",
        "2026-11-26T10:15:60Z",
        "2026-11-26T10:15:42+18:01",
        "2026-11-26T10:15:42-19:00",
        "2026-11-26T10:15:42+01:60",
        "2026-11-26T10:15:42Z\n",
        "２026-11-26T10:15:42Z",
        "1764152142",
        "yesterday",
    ],
)
def test_invalid_event_ts(written):
    assert reason_of(validate_order(order(event_ts=written))) == "invalid_event_ts"


def test_first_failing_value_check_wins():
    assert reason_of(validate_order(order(total_amount="-1.234", status="x"))) == "negative_amount:total_amount"
    assert reason_of(validate_order(order(total_amount="1.234", status="x"))) == "too_many_decimals:total_amount"
    assert reason_of(validate_order(order(status="x", currency="x", event_ts="x"))) == "unknown_status"
    assert reason_of(validate_order(order(currency="x", event_ts="x"))) == "invalid_currency"


@given(st.binary(max_size=200))
def test_validation_never_raises_on_arbitrary_bytes(value):
    assert isinstance(validate_order(value), (Valid, Invalid))
    assert isinstance(validate_payment(value), (Valid, Invalid))


def test_validation_is_deterministic():
    messages = [order(), payment(payment_id=DROP), order(total_amount="1.234")]
    assert [validate_order(m) for m in messages] == [validate_order(m) for m in messages]
    assert [validate_payment(m) for m in messages] == [validate_payment(m) for m in messages]
