"""CONTRACT.md rule 6 as Spark columns: the first reason a raw message is invalid, or null.

The same checks, in the same order and with the same reason strings, are written in plain
Python in `simulator/validation.py`; the oracle and this module must agree message by message.
JSON is parsed into a VARIANT, which keeps each value's JSON type (a string "3998" is not the
number 3998) — `from_json` would silently coerce.
"""

from __future__ import annotations

from functools import reduce

from pyspark.sql import Column
from pyspark.sql import functions as F

from pipeline.contract import MAX_AMOUNT_CENTS, MAX_MONEY_INTEGER_DIGITS, STRING_FIELDS, EventKind

# Java regex: \z, not $, ends a pattern ($ also matches before a trailing newline).
INTEGRAL_TYPES = r"^(TINYINT|SMALLINT|INT|BIGINT)\z"
DECIMAL_TYPE = r"^DECIMAL\((\d+),(\d+)\)\z"
DECIMAL_TEXT = r"^-?[0-9]+(\.[0-9]+)?\z"
TIMESTAMP_WITH_ZONE = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})\z"
TIMESTAMP_WITHOUT_ZONE = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?\z"
BLANK = r"^[ \t\n\x0b\f\r]*\z"
CURRENCY = r"^[A-Z]{3}\z"


def parsed(raw_value: Column) -> Column:
    """The message as a VARIANT; null when it is not valid JSON."""
    return F.try_parse_json(raw_value)


def field(doc: Column, name: str) -> Column:
    return F.try_variant_get(doc, f"$.{name}", "variant")


def json_type(value: Column) -> Column:
    """schema_of_variant of a value: STRING, BIGINT, DECIMAL(4,2), DOUBLE, BOOLEAN, VOID, OBJECT<…>, ARRAY<…>."""
    return F.schema_of_variant(value)


def _text(value: Column) -> Column:
    return F.try_variant_get(value, "$", "string")


def _absent(value: Column) -> Column:
    return value.isNull() | F.is_variant_null(value) | (
        (json_type(value) == "STRING") & _text(value).rlike(BLANK)
    )


def _decimal_scale(kind: Column) -> Column:
    return F.regexp_extract(kind, DECIMAL_TYPE, 2).cast("int")


def _decimal_precision(kind: Column) -> Column:
    return F.regexp_extract(kind, DECIMAL_TYPE, 1).cast("int")


def _is_money(value: Column) -> Column:
    kind = json_type(value)
    return ((kind == "STRING") & _text(value).rlike(DECIMAL_TEXT)) | kind.rlike(INTEGRAL_TYPES) | kind.rlike(DECIMAL_TYPE)


def _money_too_many_decimals(value: Column) -> Column:
    # Numerically, not textually: "39.980" is a whole number of cents, "39.985" is not.
    kind = json_type(value)
    return F.when(kind == "STRING", _text(value).rlike(r"\.[0-9]{2}[0-9]*[1-9]")).otherwise(
        kind.rlike(DECIMAL_TYPE) & (_decimal_scale(kind) > 2))


def _money_out_of_range(value: Column) -> Column:
    kind = json_type(value)
    integer_digits = MAX_MONEY_INTEGER_DIGITS
    # A string's integer digits are counted as written, leading zeros included.
    return F.when(kind == "STRING", _text(value).rlike(rf"^-?[0-9]{{{integer_digits + 1}}}")).otherwise(
        F.when(kind.rlike(DECIMAL_TYPE), _decimal_precision(kind) - _decimal_scale(kind) > integer_digits)
        .otherwise(F.abs(F.try_variant_get(value, "$", "decimal(38,0)")) >= F.lit(10**integer_digits)))


def _negative(value: Column) -> Column:
    return _text(value).startswith("-") & _text(value).rlike("[1-9]")


def _is_integral(value: Column) -> Column:
    kind = json_type(value)
    return kind.rlike(INTEGRAL_TYPES) | (kind.rlike(DECIMAL_TYPE) & (_decimal_scale(kind) == 0))


def _checks(doc: Column, kind: EventKind) -> list[tuple[Column, Column]]:
    """(failed?, reason) pairs in the order the contract's rule 6 is applied."""
    checks: list[tuple[Column, Column]] = []
    for name in kind.required:
        checks.append((_absent(field(doc, name)), F.lit(f"missing_field:{name}")))
    optional = [n for n in ("payment_id", "items") if n in kind.schema.fieldNames()]
    for name in (*kind.required, *optional):
        value = field(doc, name)
        present = value.isNotNull() & ~F.is_variant_null(value)
        if name in STRING_FIELDS:
            wrong = json_type(value) != "STRING"
        elif name == "total_amount":
            wrong = ~_is_money(value)
        elif name == "amount_cents":
            wrong = ~_is_integral(value)
        else:  # items
            wrong = ~json_type(value).startswith("ARRAY")
        checks.append((present & wrong, F.lit(f"wrong_type:{name}")))
    money = "total_amount" if "total_amount" in kind.required else "amount_cents"
    amount = field(doc, money)
    checks.append((_negative(amount), F.lit(f"negative_amount:{money}")))
    if money == "total_amount":
        checks.append((_money_too_many_decimals(amount), F.lit("too_many_decimals:total_amount")))
        checks.append((_money_out_of_range(amount), F.lit("amount_out_of_range:total_amount")))
    else:
        checks.append((F.try_variant_get(amount, "$", "decimal(38,0)") > F.lit(MAX_AMOUNT_CENTS),
                       F.lit("amount_out_of_range:amount_cents")))
    status = _text(field(doc, "status"))
    checks.append((~status.isin(*kind.statuses), F.lit("unknown_status")))
    checks.append((~_text(field(doc, "currency")).rlike(CURRENCY), F.lit("invalid_currency")))
    event_ts = _text(field(doc, "event_ts"))
    checks.append((event_ts.rlike(TIMESTAMP_WITHOUT_ZONE), F.lit("event_ts_without_zone")))
    checks.append((~event_ts.rlike(TIMESTAMP_WITH_ZONE) | event_timestamp(event_ts).isNull(),
                   F.lit("invalid_event_ts")))
    return checks


def rejection_reason(raw_value: Column, kind: EventKind) -> Column:
    """The first rule-6 reason this message breaks, or null when it is valid."""
    doc = parsed(raw_value)
    structural = [
        (raw_value.isNull() | (F.length(raw_value) == 0), F.lit("empty_message")),
        (~F.is_valid_utf8(raw_value), F.lit("invalid_utf8")),
        (doc.isNull(), F.lit("invalid_json")),
        (~json_type(doc).startswith("OBJECT"), F.lit("not_an_object")),
        *_checks(doc, kind),
    ]
    # Built inside out so the first check in the list wins.
    return reduce(lambda otherwise, check: F.when(check[0], check[1]).otherwise(otherwise),
                  reversed(structural), F.lit(None).cast("string"))


def event_timestamp(event_ts_text: Column) -> Column:
    """ISO-8601 text with a zone -> UTC timestamp (the session runs in UTC); fractions beyond
    microseconds are truncated."""
    return event_ts_text.try_cast("timestamp")
