"""Generated raw messages, for the Spark-vs-Python parity test and the validator's own properties: a
valid event with a few fields dropped, nulled, retyped or rewritten, maybe respelled or damaged; or an
object of any of the events' fields."""

from __future__ import annotations

import json

from hypothesis import strategies as st

from pipeline.schemas import ORDER, PAYMENT
from tests.messages import Raw, has_raw, literal, order, payment

DIGITS = "0123456789"


@st.composite
def decimal_text(draw) -> str:
    """Decimal-looking text, not always valid: leading zeros, long fractions, "12.", exponents."""
    sign = draw(st.sampled_from(["", "", "", "-", "+"]))
    whole = draw(st.one_of(st.text(DIGITS, min_size=1, max_size=20), st.just("")))
    fraction = draw(st.one_of(st.none(), st.text(DIGITS, min_size=0, max_size=6)))
    exponent = draw(st.one_of(st.none(), st.none(), st.from_regex(r"[eE][+-]?[0-9]{1,2}", fullmatch=True)))
    return sign + whole + ("" if fraction is None else "." + fraction) + (exponent or "")


@st.composite
def plain_money(draw) -> str | Raw:
    """A decimal that is often valid: up to 18 integer digits, 0-4 decimals, trailing zeros; a string or a number."""
    whole = draw(st.from_regex(r"-?[0-9]{1,18}", fullmatch=True))
    fraction = draw(st.sampled_from(["", ".5", ".50", ".99", ".980", ".985", ".000", ".001", ".1234"]))
    if draw(st.booleans()):
        return whole + fraction
    sign, digits = ("-", whole[1:]) if whole.startswith("-") else ("", whole)
    return Raw(sign + (digits.lstrip("0") or "0") + fraction)  # JSON numbers have no leading zeros


@st.composite
def number_literal(draw) -> Raw:
    """A valid JSON number: money-like, integral with ".0"s, long, or with an exponent."""
    sign = draw(st.sampled_from(["", "", "-"]))
    whole = draw(st.one_of(st.just("0"), st.from_regex(r"[1-9][0-9]{0,22}", fullmatch=True), st.just("9" * 39)))
    fraction = draw(st.one_of(st.none(), st.sampled_from(["0", "00", "000", "5", "50", "985", "980"]),
                              st.text(DIGITS, min_size=1, max_size=40)))
    exponent = draw(st.one_of(st.none(), st.none(), st.none(), st.from_regex(r"[eE][+-]?[0-9]{1,2}", fullmatch=True)))
    return Raw(sign + whole + ("" if fraction is None else "." + fraction) + (exponent or ""))


@st.composite
def timestamp_text(draw) -> str:
    """ISO-8601-ish text with every part possibly out of range, a zone or not, a long fraction."""
    year = draw(st.one_of(st.integers(1990, 2030), st.sampled_from([0, 1, 9999])))
    month, day = draw(st.integers(0, 13)), draw(st.integers(0, 32))
    hour, minute, second = draw(st.integers(0, 24)), draw(st.integers(0, 60)), draw(st.integers(0, 61))
    fraction = draw(st.one_of(st.just(""), st.text(DIGITS, min_size=1, max_size=10).map(lambda f: "." + f)))
    zone = draw(st.one_of(
        st.sampled_from(["Z", "Z", "", "z", "+0100", "Z\n"]),
        st.tuples(st.sampled_from("+-"), st.integers(0, 25), st.integers(0, 61))
        .map(lambda zone: f"{zone[0]}{zone[1]:02d}:{zone[2]:02d}"),
    ))
    separator = draw(st.sampled_from(["T", "T", "T", " "]))
    return f"{year:04d}-{month:02d}-{day:02d}{separator}{hour:02d}:{minute:02d}:{second:02d}{fraction}{zone}"


any_json = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-(10**20), 10**20), st.text(max_size=5), number_literal()),
    lambda children: st.one_of(
        st.lists(children, max_size=3), st.dictionaries(st.text(max_size=3), children, max_size=3)
    ),
    max_leaves=6,
)
odd_text = st.one_of(
    st.text(max_size=6),
    st.sampled_from(["", " ", "\t\n", "\x0b", "\u00a0", "o-1", "'; DROP TABLE t; --", "\ud800", "\U0001f600"]),
)
# decimal_text() written as a bare literal is often not JSON at all ("012", "1.", "+5"): fine, both sides must say so.
money_value = st.one_of(plain_money(), plain_money(), decimal_text(), number_literal(), decimal_text().map(Raw))
FIELD_VALUES = {
    "status": st.sampled_from([*ORDER.statuses, *PAYMENT.statuses, "Created", "captured ", "paid"]),
    "currency": st.one_of(st.sampled_from(["USD", "EUR", "usd", "US", "USDD", "USD\n", " USD", "ＵＳＤ"]),
                          st.text("ABCXYZabc$1", min_size=3, max_size=3)),
    "event_ts": timestamp_text(),
    "total_amount": money_value,
    "amount_cents": st.one_of(
        number_literal(), plain_money(), st.integers(-5, 10**19).map(str).map(Raw), decimal_text()
    ),
    "items": st.lists(st.one_of(
        st.fixed_dictionaries({}, optional={"sku": odd_text, "quantity": st.one_of(number_literal(), any_json),
                                            "unit_price": st.one_of(money_value, any_json)}),
        any_json,
    ), max_size=3),
}


MUTATIONS = ["drop", "null", "rewrite", "rewrite", "rewrite", "retype"]
DAMAGES = [None] * 45 + ["truncate", "append", "prepend", "duplicate_key", "bytes"]


@st.composite
def event_message(draw, template: dict) -> bytes:
    """The template with up to two fields mutated (money and event_ts most often), maybe respelled or damaged."""
    fields = dict(template)
    often = [name for name in template if name in ("total_amount", "amount_cents", "event_ts")]
    for name in draw(st.lists(st.sampled_from([*template, *often, *often]), max_size=2, unique=True)):
        mutation = draw(st.sampled_from(MUTATIONS))
        if mutation == "drop":
            del fields[name]
        elif mutation == "null":
            fields[name] = None
        elif mutation == "rewrite":
            fields[name] = draw(FIELD_VALUES.get(name, odd_text))
        else:
            fields[name] = draw(any_json)
    if draw(st.sampled_from([False] * 9 + [True])):
        fields[draw(st.text(max_size=4))] = draw(any_json)
    text = literal(fields)
    if draw(st.booleans()) and not has_raw(fields):
        # The same document spelled differently: indented, non-ASCII as \u escapes.
        text = json.dumps(json.loads(text), indent=draw(st.sampled_from([None, 1])), ensure_ascii=draw(st.booleans()))
    value = text.encode("utf-8", errors="surrogatepass")  # a lone surrogate becomes invalid UTF-8
    damage = draw(st.sampled_from(DAMAGES))
    if damage == "truncate":
        value = value[: draw(st.integers(0, len(value)))]
    elif damage == "append":
        value += draw(st.sampled_from([b" x", b"}", b"{}", b"\n", b"\x00", b",", b"]"]))
    elif damage == "prepend":
        value = draw(st.sampled_from([b"\xef\xbb\xbf", b"[", b" ", b"\x0b"])) + value
    elif damage == "duplicate_key":
        value = value.replace(b"{", b'{"event_id":"dup",', 1)
    elif damage == "bytes":
        value = draw(st.binary(max_size=12))
    return value


FIELD_NAMES = sorted({*ORDER.required, *PAYMENT.required, "payment_id", "items"})


@st.composite
def json_object(draw) -> bytes:
    """An object with any of the events' field names, each with a likely or any value, and maybe
    others: mostly valid JSON, so the rules after parsing decide (random bytes seldom get that far)."""
    fields = draw(st.fixed_dictionaries({}, optional={
        name: st.one_of(FIELD_VALUES.get(name, odd_text), any_json) for name in FIELD_NAMES
    }))
    fields.update(draw(st.dictionaries(st.text(max_size=4), any_json, max_size=2)))
    return literal(fields).encode("utf-8", errors="surrogatepass")


ORDER_TEMPLATE = json.loads(order())
PAYMENT_TEMPLATE = {**json.loads(payment()), "amount_cents": Raw("3998")}
