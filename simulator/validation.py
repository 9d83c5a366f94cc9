"""The per-message validation rule shared with the Spark pipeline: first failing check wins, reasons verbatim."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, Generic, TypeVar

from contract import (
    MAX_AMOUNT_CENTS,
    MAX_DECIMAL_DIGITS,
    MAX_INTEGER_DIGITS,
    MAX_JSON_DEPTH,
    ORDER_FIELDS,
    ORDER_STATUSES,
    PAYMENT_FIELDS,
    PAYMENT_STATUSES,
)
from simulator.model import CENT, LineItem, OrderEvent, PaymentEvent

# re.ASCII everywhere: Python's \d and \s would otherwise accept non-ASCII digits and spaces that Spark rejects.
# Always fullmatch: a pattern's "$" would also accept a trailing newline, in Python as in Java.
_DECIMAL_STRING = re.compile(r"-?[0-9]+(\.[0-9]+)?", re.ASCII)
_CURRENCY = re.compile(r"[A-Z]{3}", re.ASCII)
_BLANK = re.compile(r"\s*", re.ASCII)
# After json.loads, an escaped surrogate pair is one character; any surrogate left is a lone one.
_SURROGATE = re.compile("[\ud800-\udfff]")
_TS_WITH_ZONE = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|([+-])(\d{2}):(\d{2}))", re.ASCII
)
_TS_WITHOUT_ZONE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?", re.ASCII)

Event = TypeVar("Event", OrderEvent, PaymentEvent)


@dataclass(frozen=True)
class Valid(Generic[Event]):
    event: Event


@dataclass(frozen=True)
class Invalid:
    reason: str


@dataclass(frozen=True)
class JsonNumber:
    """A JSON number kept as its literal text, so exponents and fraction digits stay visible."""

    text: str

    @property
    def is_integer_literal(self) -> bool:
        return not any(c in self.text for c in ".eE")

    @property
    def has_exponent(self) -> bool:
        return "e" in self.text or "E" in self.text

    @property
    def is_decimal(self) -> bool:
        """Held as a decimal by Spark's VARIANT: no exponent, at most 38 digits and 38 decimals
        (anything else becomes a DOUBLE there, which the contract does not accept as money)."""
        if self.has_exponent:
            return False
        digits = Decimal(self.text).as_tuple()
        return len(digits.digits) <= MAX_DECIMAL_DIGITS and -digits.exponent <= MAX_DECIMAL_DIGITS

    @property
    def is_integral(self) -> bool:
        return self.is_decimal and _decimal_places(Decimal(self.text)) == 0


class _StrictJsonError(ValueError):
    pass


def _reject_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise _StrictJsonError("duplicate key")
    return result


def _reject_constant(name: str) -> Any:
    raise _StrictJsonError(f"non-standard constant {name}")


def parse_strict_json(text: str) -> Any:
    """json.loads without NaN/Infinity, duplicate keys, lone surrogates ("\\ud800", which UTF-8
    cannot carry) and nesting beyond MAX_JSON_DEPTH; numbers come back as JsonNumber."""
    if text.count("[") + text.count("{") > MAX_JSON_DEPTH and _nesting_depth(text) > MAX_JSON_DEPTH:
        raise _StrictJsonError("nested too deep")
    parsed = json.loads(
        text,
        object_pairs_hook=_reject_duplicate_keys,
        parse_constant=_reject_constant,
        parse_float=JsonNumber,
        parse_int=JsonNumber,
    )
    if "\\u" in text and _has_lone_surrogate(parsed):
        raise _StrictJsonError("lone surrogate")
    return parsed


def _nesting_depth(text: str) -> int:
    """How deep arrays and objects nest, counted outside string literals (exact for valid JSON)."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            in_string = escaped or char != '"'
            escaped = not escaped and char == "\\"
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def _has_lone_surrogate(value: Any) -> bool:
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if _SURROGATE.search(item):
                return True
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return False


def validate_order(value: bytes | None) -> Valid[OrderEvent] | Invalid:
    """The parsed order event, or the reason the message goes to quarantine."""
    parsed = _parse_object(value, ORDER_FIELDS)
    if isinstance(parsed, Invalid):
        return parsed
    # Optional fields are type-checked after the required ones.
    reason = _first_wrong_type(parsed, ORDER_FIELDS) or _optional_wrong_type(parsed, "items", list)
    if reason:
        return Invalid(reason)
    total_text = _money_text(parsed["total_amount"])
    total = Decimal(total_text)
    # Integer digits are counted in the text as written, leading zeros included; decimals by
    # value ("39.980" is a whole number of cents, "39.985" is not).
    integer_digits = total_text.lstrip("-").partition(".")[0]
    if total < 0:
        return Invalid("negative_amount:total_amount")
    if _decimal_places(total) > 2:
        return Invalid("too_many_decimals:total_amount")
    if len(integer_digits) > MAX_INTEGER_DIGITS:
        return Invalid("amount_out_of_range:total_amount")
    outcome = _check_status_currency_ts(parsed, ORDER_STATUSES)
    if isinstance(outcome, Invalid):
        return outcome
    items = parsed.get("items")
    return Valid(
        OrderEvent(
            event_id=parsed["event_id"],
            order_id=parsed["order_id"],
            user_id=parsed["user_id"],
            status=parsed["status"],
            currency=parsed["currency"],
            total_amount=_two_decimals(total),
            event_ts=outcome,
            items=None if items is None else tuple(_lenient_item(item) for item in items),
        )
    )


def validate_payment(value: bytes | None) -> Valid[PaymentEvent] | Invalid:
    """The parsed payment event (synthetic payment_id filled in), or the reason the message goes to quarantine."""
    parsed = _parse_object(value, PAYMENT_FIELDS)
    if isinstance(parsed, Invalid):
        return parsed
    reason = _first_wrong_type(parsed, PAYMENT_FIELDS) or _optional_wrong_type(parsed, "payment_id", str)
    if reason:
        return Invalid(reason)
    amount_cents = int(Decimal(parsed["amount_cents"].text))
    if amount_cents < 0:
        return Invalid("negative_amount:amount_cents")
    if amount_cents > MAX_AMOUNT_CENTS:
        return Invalid("amount_out_of_range:amount_cents")
    outcome = _check_status_currency_ts(parsed, PAYMENT_STATUSES)
    if isinstance(outcome, Invalid):
        return outcome
    payment_id = parsed.get("payment_id")
    if payment_id is None:
        payment_id = synthetic_payment_id(parsed["order_id"], amount_cents, parsed["currency"], outcome)
    return Valid(
        PaymentEvent(
            event_id=parsed["event_id"],
            payment_id=payment_id,
            order_id=parsed["order_id"],
            status=parsed["status"],
            amount_cents=amount_cents,
            currency=parsed["currency"],
            event_ts=outcome,
        )
    )


def synthetic_payment_id(order_id: str, amount_cents: int, currency: str, event_ts: datetime) -> str:
    """Deterministic id for a payment event without payment_id; the Spark side hashes the same string."""
    key = f"{order_id}|{amount_cents}|{currency}|{format_utc_micros(event_ts)}"
    # Validation rejects lone surrogates ("\ud800"); should one get here anyway, encode it as "?" like Java's getBytes.
    return "syn-" + hashlib.sha256(key.encode("utf-8", errors="replace")).hexdigest()[:24]


def format_utc_micros(instant: datetime) -> str:
    # Formatted by hand: strftime("%Y") does not zero-pad years before 1000 on every platform.
    utc = instant.astimezone(timezone.utc)
    return (
        f"{utc.year:04d}-{utc.month:02d}-{utc.day:02d}T"
        f"{utc.hour:02d}:{utc.minute:02d}:{utc.second:02d}.{utc.microsecond:06d}Z"
    )


def parse_event_ts(text: str) -> datetime | Invalid:
    """A zoned ISO-8601 instant in UTC, fraction truncated to microseconds, or the reason it is not one."""
    match = _TS_WITH_ZONE.fullmatch(text)
    if match is None:
        return Invalid("event_ts_without_zone" if _TS_WITHOUT_ZONE.fullmatch(text) else "invalid_event_ts")
    year, month, day, hour, minute, second, fraction, zone, sign, offset_h, offset_m = match.groups()
    try:
        offset = timedelta(0)
        if zone != "Z":
            if int(offset_m) > 59 or int(offset_h) * 60 + int(offset_m) > 18 * 60:
                return Invalid("invalid_event_ts")
            offset = timedelta(hours=int(offset_h), minutes=int(offset_m)) * (-1 if sign == "-" else 1)
        micros = int((fraction or "").ljust(6, "0")[:6])
        # Year 0000 is no datetime, yet "0000-12-31T23:00:00-01:00" is 0001-01-01 in UTC, and only
        # the UTC year must lie in 1-9999. The Gregorian calendar repeats every 400 years: parse
        # 400 years on and come back.
        shift = 400 if int(year) == 0 else 0
        local = datetime(int(year) + shift, int(month), int(day), int(hour), int(minute), int(second), micros,
                         timezone(offset))
        utc = local.astimezone(timezone.utc)
        return utc.replace(year=utc.year - shift) if utc.year > shift else Invalid("invalid_event_ts")
    except (ValueError, OverflowError):
        return Invalid("invalid_event_ts")


def _parse_object(value: bytes | None, required: tuple[str, ...]) -> dict[str, Any] | Invalid:
    if not value:
        return Invalid("empty_message")
    try:
        text = value.decode("utf-8")
    except UnicodeDecodeError:
        return Invalid("invalid_utf8")
    try:
        parsed = parse_strict_json(text)
    except (ValueError, RecursionError):
        return Invalid("invalid_json")
    if not isinstance(parsed, dict):
        return Invalid("not_an_object")
    for name in required:
        field_value = parsed.get(name)
        if field_value is None or (isinstance(field_value, str) and _BLANK.fullmatch(field_value)):
            return Invalid(f"missing_field:{name}")
    return parsed


def _first_wrong_type(parsed: dict[str, Any], required: tuple[str, ...]) -> str | None:
    for name in required:
        field_value = parsed[name]
        if name == "total_amount":
            ok = _money_text(field_value) is not None
        elif name == "amount_cents":
            # 3998.0 is a whole number of cents; 3998.5 and 4e3 are not integers here.
            ok = isinstance(field_value, JsonNumber) and field_value.is_integral
        else:
            ok = isinstance(field_value, str)
        if not ok:
            return f"wrong_type:{name}"
    return None


def _optional_wrong_type(parsed: dict[str, Any], name: str, expected: type) -> str | None:
    field_value = parsed.get(name)
    if field_value is not None and not isinstance(field_value, expected):
        return f"wrong_type:{name}"
    return None


def _money_text(field_value: Any) -> str | None:
    """The decimal text of a money field written as a plain decimal string or exponent-free number."""
    if isinstance(field_value, str) and _DECIMAL_STRING.fullmatch(field_value):
        return field_value
    if isinstance(field_value, JsonNumber) and field_value.is_decimal:
        return field_value.text
    return None


def _check_status_currency_ts(parsed: dict[str, Any], statuses: tuple[str, ...]) -> datetime | Invalid:
    if parsed["status"] not in statuses:
        return Invalid("unknown_status")
    if not _CURRENCY.fullmatch(parsed["currency"]):
        return Invalid("invalid_currency")
    return parse_event_ts(parsed["event_ts"])


def _lenient_item(item: Any) -> LineItem:
    """Items never decide validity: any piece that is not what the contract says becomes None."""
    if not isinstance(item, dict):
        return LineItem(sku=None, quantity=None, unit_price=None)
    sku, quantity = item.get("sku"), item.get("quantity")
    return LineItem(
        sku=sku if isinstance(sku, str) else None,
        quantity=_small_int(quantity),
        unit_price=_lenient_price(item.get("unit_price")),
    )


def _small_int(field_value: Any) -> int | None:
    if not isinstance(field_value, JsonNumber) or not field_value.is_integer_literal or len(field_value.text) > 18:
        return None
    return int(field_value.text)


def _lenient_price(field_value: Any) -> Decimal | None:
    # The total's money rule: integer digits counted as written, decimals by value ("19.990" is 19.99).
    text = _money_text(field_value)
    if text is None:
        return None
    price = Decimal(text)
    if len(text.lstrip("-").partition(".")[0]) > MAX_INTEGER_DIGITS or _decimal_places(price) > 2:
        return None
    return _two_decimals(price)


def _decimal_places(amount: Decimal) -> int:
    """Decimal places of the value, trailing zeros ignored; exact at any size (no context rounding)."""
    sign, digits, exponent = amount.as_tuple()
    trailing_zeros = len(digits) - len("".join(map(str, digits)).rstrip("0"))
    return max(0, -(exponent + trailing_zeros)) if any(digits) else 0


def _two_decimals(amount: Decimal) -> Decimal:
    # decimal(18,2) has no negative zero: "-0.00" is held as 0.00.
    return amount.quantize(CENT) if amount else Decimal("0.00")
