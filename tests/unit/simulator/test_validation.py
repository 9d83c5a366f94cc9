"""Unit tests of the per-message validation rule: one hand-written message per reason, plus the valid
shapes; then properties on generated messages (one verdict, always the same; a single break, its reason)."""

from __future__ import annotations

import hashlib
import re
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from contract import MAX_AMOUNT_CENTS
from pipeline.schemas import ORDER, PAYMENT, EventKind
from simulator.model import LineItem, OrderEvent, PaymentEvent
from simulator.validation import Invalid, Valid, validate_order, validate_payment
from tests.generated_messages import FIELD_NAMES, ORDER_TEMPLATE, PAYMENT_TEMPLATE, any_json, event_message, json_object
from tests.messages import DROP, Raw, encode, order, payment
from tests.profiles import examples


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
        # Only the UTC year must lie in 1-9999, whatever the local one.
        ("0000-12-31T23:00:00-01:00", utc(1, 1, 1)),
        ("9999-12-31T23:59:59.999999999+01:00", utc(9999, 12, 31, 22, 59, 59, 999999)),
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
        "0000-12-31T23:59:59.999999-00:00",
        "0000-02-29T12:00:00-18:00",
        "9999-12-31T23:59:59-01:00",
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


def test_validation_is_deterministic():
    messages = [order(), payment(payment_id=DROP), order(total_amount="1.234")]
    assert [validate_order(m) for m in messages] == [validate_order(m) for m in messages]
    assert [validate_payment(m) for m in messages] == [validate_payment(m) for m in messages]


# -- properties ------------------------------------------------------------------------------

ASCII_SPACE = " \t\n\r\f\v"  # a field of only these is blank
DIGITS = "0123456789"
# README "Quarantine reasons", written out here rather than read from simulator.validation.
SHARED_REASONS = {"empty_message", "invalid_utf8", "invalid_json", "not_an_object", "unknown_status",
                  "invalid_currency", "event_ts_without_zone", "invalid_event_ts"}
REASONS = {
    ORDER.name: SHARED_REASONS | {
        *(f"missing_field:{name}" for name in ORDER.required),
        *(f"wrong_type:{name}" for name in (*ORDER.required, "items")),
        "negative_amount:total_amount", "too_many_decimals:total_amount", "amount_out_of_range:total_amount",
    },
    PAYMENT.name: SHARED_REASONS | {
        *(f"missing_field:{name}" for name in PAYMENT.required),
        *(f"wrong_type:{name}" for name in (*PAYMENT.required, "payment_id")),
        "negative_amount:amount_cents", "amount_out_of_range:amount_cents",
    },
}
VALIDATE = {ORDER.name: validate_order, PAYMENT.name: validate_payment}
# Random bytes seldom parse: objects of the events' fields, and events with a field or two
# mutated (the parity test's messages) reach the later rules.
ANY_MESSAGE = st.one_of(st.none(), st.binary(max_size=200), json_object(), event_message(ORDER_TEMPLATE),
                        event_message(PAYMENT_TEMPLATE))


@settings(max_examples=examples(ci=1000, thorough=10_000))
@given(value=ANY_MESSAGE)
def test_every_message_gets_one_verdict_and_the_same_one_again(value):
    for kind, validate in VALIDATE.items():
        verdict = validate(value)
        assert type(verdict) in (Valid, Invalid)
        if isinstance(verdict, Invalid):
            assert verdict.reason in REASONS[kind]
        assert validate(None if value is None else bytes(bytearray(value))) == verdict
        event(f"{kind}: {verdict.reason if isinstance(verdict, Invalid) else 'clean'}")


ids = st.text(min_size=1, max_size=8).filter(lambda text: text.strip(ASCII_SPACE))


@st.composite
def zoned_ts(draw) -> tuple[str, str, str, datetime]:
    """An event_ts as CONTRACT.md allows it, in parts (date and time, fraction, zone), and the UTC
    instant Silver holds: any offset up to ±18:00, 0-9 fraction digits cut to the microsecond."""
    instant = draw(st.datetimes(datetime(1, 1, 2), datetime(9999, 12, 30), timezones=st.just(timezone.utc)))
    minutes = draw(st.integers(-18 * 60, 18 * 60))
    local = instant.replace(microsecond=0).astimezone(timezone(timedelta(minutes=minutes)))
    date_time = (f"{local.year:04d}-{local.month:02d}-{local.day:02d}"
                 f"T{local.hour:02d}:{local.minute:02d}:{local.second:02d}")
    fraction = draw(st.text(DIGITS, max_size=9))
    sign = "-" if minutes < 0 else "+"
    zone = draw(st.sampled_from(("Z", "+00:00", "-00:00"))) if minutes == 0 else (
        f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}")
    micros = int(fraction[:6].ljust(6, "0"))
    return date_time, "." + fraction if fraction else "", zone, instant.replace(microsecond=micros)


@st.composite
def valid_event(draw, kind: EventKind) -> tuple[dict, dict, tuple[str, str, str]]:
    """The fields of a valid event, what a clean event reads as, and its event_ts in parts."""
    date_time, fraction, zone, instant = draw(zoned_ts())
    fields = {"event_id": draw(ids), "order_id": draw(ids), "status": draw(st.sampled_from(kind.statuses)),
              "currency": draw(st.from_regex(r"[A-Z]{3}", fullmatch=True)), "event_ts": date_time + fraction + zone}
    expected = {**fields, "event_ts": instant}
    cents = draw(st.integers(0, MAX_AMOUNT_CENTS))
    if kind is ORDER:
        expected["total_amount"] = Decimal(cents).scaleb(-2)
        text = f"{cents // 100}.{cents % 100:02d}" + draw(st.sampled_from(("", "0", "000")))
        if cents % 100 == 0 and draw(st.booleans()):
            text = str(cents // 100)
        fields.update(user_id=draw(ids), total_amount=draw(st.sampled_from((text, Raw(text)))),
                      items=draw(st.sampled_from((DROP, None, [], [{"sku": "a", "quantity": 1, "unit_price": "1"}]))))
        expected["user_id"] = fields["user_id"]
    else:
        expected["amount_cents"] = cents
        fields.update(amount_cents=Raw(draw(st.sampled_from((str(cents), f"{cents}.0")))),
                      payment_id=draw(st.one_of(st.just(DROP), st.none(), ids)))
        if isinstance(fields["payment_id"], str):
            expected["payment_id"] = fields["payment_id"]
    # Fields CONTRACT.md does not name are ignored.
    extra = st.text(max_size=4).filter(lambda name: name not in FIELD_NAMES)
    fields.update(draw(st.dictionaries(extra, any_json, max_size=2)))
    return fields, expected, (date_time, fraction, zone)


def non_blank_text(max_size: int, unless) -> st.SearchStrategy[str]:
    return st.text(max_size=max_size).filter(lambda text: text.strip(ASCII_SPACE) and not unless(text))


NOT_A_STRING = any_json.filter(lambda value: value is not None and not isinstance(value, str))
NEITHER_STRING_NOR_NUMBER = any_json.filter(lambda value: isinstance(value, (bool, list, dict)))
NOT_MONEY = {
    "total_amount": st.one_of(NEITHER_STRING_NOR_NUMBER, st.sampled_from([
        Raw("3.998e1"), Raw("4E1"), Raw("1" * 39), "12.", ".5", "+12", " 12", "12,50", "１２", "4e1"])),
    "amount_cents": st.one_of(NEITHER_STRING_NOR_NUMBER, st.sampled_from([
        "3998", Raw("3998.5"), Raw("4e3"), Raw("9" * 39), Raw("-1.5")])),
}
BREAKS = ["none"] * 6 + ["missing", "wrong_type", "wrong_optional_type", "negative", "too_many_decimals",
                         "out_of_range", "status", "currency", "no_zone", "bad_ts", "empty", "utf8", "json",
                         "not_an_object"]


@st.composite
def broken_once(draw, kind: EventKind) -> tuple[bytes | None, str | None, dict]:
    """A valid event, maybe broken in one way; the reason CONTRACT.md gives that break (None when
    clean), and what the clean event reads as."""
    fields, expected, (date_time, fraction, zone) = draw(valid_event(kind))
    money = "total_amount" if kind is ORDER else "amount_cents"
    breaking = draw(st.sampled_from(BREAKS if kind is ORDER else [b for b in BREAKS if b != "too_many_decimals"]))
    reason = None
    if breaking in ("missing", "wrong_type"):
        name = draw(st.sampled_from(kind.required))
        if breaking == "missing":
            fields[name] = draw(st.sampled_from((DROP, None, "", " ", "\t\n")))
        else:
            fields[name] = draw(NOT_MONEY[name] if name == money else NOT_A_STRING)
        reason = f"{'missing_field' if breaking == 'missing' else 'wrong_type'}:{name}"
    elif breaking == "wrong_optional_type":
        name = "items" if kind is ORDER else "payment_id"
        fields[name] = draw(NOT_A_STRING.filter(lambda value: not isinstance(value, list)) if kind is ORDER
                            else NOT_A_STRING)
        reason = f"wrong_type:{name}"
    elif breaking == "negative":
        cents = draw(st.integers(1, 10**20))
        fields[money] = Raw(f"-{cents}") if kind is PAYMENT else draw(st.sampled_from((
            f"-{cents // 100}.{cents % 100:02d}", Raw(f"-{cents // 100}.{cents % 100:02d}"))))
        reason = f"negative_amount:{money}"
    elif breaking == "too_many_decimals":
        text = draw(st.from_regex(r"(0|[1-9][0-9]{0,19})\.[0-9]{2}[0-9]{0,3}[1-9]", fullmatch=True))
        fields[money] = draw(st.sampled_from((text, Raw(text))))
        reason = "too_many_decimals:total_amount"
    elif breaking == "out_of_range":
        if kind is ORDER:
            text = draw(st.from_regex(r"[1-9][0-9]{16,20}(\.[0-9]{1,2})?", fullmatch=True))
            fields[money] = draw(st.sampled_from((text, Raw(text))))
        else:
            fields[money] = Raw(str(draw(st.integers(MAX_AMOUNT_CENTS + 1, 10**38 - 1))))
        reason = f"amount_out_of_range:{money}"
    elif breaking == "status":
        fields["status"] = draw(non_blank_text(10, unless=lambda text: text in kind.statuses))
        reason = "unknown_status"
    elif breaking == "currency":
        fields["currency"] = draw(non_blank_text(5, unless=lambda text: re.fullmatch("[A-Z]{3}", text)))
        reason = "invalid_currency"
    elif breaking == "no_zone":
        fields["event_ts"] = date_time + fraction
        reason = "event_ts_without_zone"
    elif breaking == "bad_ts":
        fields["event_ts"] = draw(st.sampled_from((
            date_time.replace("T", " ") + fraction + zone,
            date_time + "." + "1" * 10 + zone,
            date_time + fraction + "+18:01",
            date_time + fraction + "-19:00",
            date_time + fraction + zone + "\n",
        )))
        reason = "invalid_event_ts"
    value = encode({name: value for name, value in fields.items() if value is not DROP})
    if breaking == "empty":
        value, reason = draw(st.sampled_from((None, b""))), "empty_message"
    elif breaking == "utf8":
        at = draw(st.integers(0, len(value)))
        value, reason = value[:at] + b"\xff" + value[at:], "invalid_utf8"
    elif breaking == "json":
        value = draw(st.sampled_from((value + b" x", value[:-1], b'{"event_id":"dup",' + value[1:])))
        reason = "invalid_json"
    elif breaking == "not_an_object":
        value, reason = b"[" + value + b"]", "not_an_object"
    return value, reason, expected


@settings(max_examples=examples(ci=1000, thorough=10_000))
@given(data=st.data(), kind=st.sampled_from((ORDER, PAYMENT)))
def test_a_valid_event_reads_as_written_and_one_break_gets_its_reason(data, kind):
    value, reason, expected = data.draw(broken_once(kind))
    verdict = VALIDATE[kind.name](value)
    if reason is None:
        assert isinstance(verdict, Valid)
        assert {name: getattr(verdict.event, name) for name in expected} == expected
    else:
        assert verdict == Invalid(reason)
    event(f"{kind.name}: {reason or 'clean'}")
