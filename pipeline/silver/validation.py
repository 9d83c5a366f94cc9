"""CONTRACT.md rule 6 as Spark columns: the first reason a raw message is invalid, or null.

The same checks, in the same order and with the same reason strings, are written in plain
Python in `simulator/validation.py`; both take the contract's constants from `contract`; the oracle and this module must agree message by message.
JSON is parsed into a VARIANT, which keeps each value's JSON type (a string "3998" is not the
number 3998) — `from_json` would silently coerce.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache, reduce

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from contract import MAX_AMOUNT_CENTS, MAX_INTEGER_DIGITS, MAX_JSON_DEPTH, STRING_FIELDS
from pipeline.schemas import MONEY, EventKind

# Java regex: \z, not $, ends a pattern ($ also matches before a trailing newline).
INTEGRAL_TYPES = r"^(TINYINT|SMALLINT|INT|BIGINT)\z"
DECIMAL_TYPE = r"^DECIMAL\((\d+),(\d+)\)\z"
DECIMAL_TEXT = r"^-?[0-9]+(\.[0-9]+)?\z"
TIMESTAMP_WITH_ZONE = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})\z"
TIMESTAMP_WITHOUT_ZONE = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?\z"
BLANK = r"^[ \t\n\x0b\f\r]*\z"
CURRENCY = r"^[A-Z]{3}\z"
# The instants a UTC timestamp may hold, as in Python's datetime and Spark's documented range.
EARLIEST_MICROS = -62_135_596_800_000_000  # 0001-01-01T00:00:00Z
LATEST_MICROS = 253_402_300_799_999_999  # 9999-12-31T23:59:59.999999Z


def parsed(raw_value: Column) -> Column:
    """The message as a VARIANT; null when it is not exactly one JSON value.

    try_parse_json reads the first JSON value and ignores whatever follows it ("{} x", "{}{}").
    Parsing `[<message>,"<sentinel>"]` instead turns trailing content into a parse error, or into
    an array whose second element is not the sentinel. The sentinel is the message's own hash,
    so no message can contain it.
    """
    sentinel = F.sha2(raw_value.cast("binary"), 256)
    wrapped = F.try_parse_json(F.concat(F.lit("["), raw_value, F.lit(',"'), sentinel, F.lit('"]')))
    return F.when(F.try_variant_get(wrapped, "$[1]", "string") == sentinel,
                  F.try_variant_get(wrapped, "$[0]", "variant"))


def too_deep(raw_value: Column) -> Column:
    """True when the JSON text nests arrays and objects more than MAX_JSON_DEPTH deep.

    Counted on the text, outside string literals: the parser itself accepts 1000 levels, more
    than the Python side can parse. Only messages with more openers than the limit are scanned.
    """
    openers = F.length(raw_value) - F.length(F.regexp_replace(raw_value, r"[\[{]", ""))
    start = F.struct(F.lit(0).alias("depth"), F.lit(0).alias("deepest"),
                     F.lit(False).alias("in_string"), F.lit(False).alias("escaped"))

    def step(state: Column, char: Column) -> Column:
        in_string, escaped, depth = state["in_string"], state["escaped"], state["depth"]
        new_depth = (F.when(in_string, depth)
                     .when(char.isin("[", "{"), depth + 1)
                     .when(char.isin("]", "}"), depth - 1)
                     .otherwise(depth))
        return F.struct(
            new_depth.alias("depth"),
            F.greatest(state["deepest"], new_depth).alias("deepest"),
            F.when(in_string, escaped | (char != '"')).otherwise(char == '"').alias("in_string"),
            (in_string & ~escaped & (char == "\\")).alias("escaped"),
        )

    deepest = F.aggregate(F.split(raw_value, ""), start, step, lambda state: state["deepest"])
    return F.when(openers > MAX_JSON_DEPTH, deepest > MAX_JSON_DEPTH).otherwise(F.lit(False))


def field(doc: Column, name: str) -> Column:
    return F.try_variant_get(doc, f"$.{name}", "variant")


def json_type(value: Column) -> Column:
    """schema_of_variant of a value: STRING, BIGINT, DECIMAL(4,2), DOUBLE, BOOLEAN, VOID, OBJECT<…>, ARRAY<…>."""
    return F.schema_of_variant(value)


@dataclass(frozen=True)
class Value:
    """A JSON value and its type, as the checks read them. The type is asked for a dozen times per
    money value; where `value` and `kind` are columns of their own, it is computed once."""

    value: Column
    kind: Column


def _text(value: Column) -> Column:
    return F.try_variant_get(value, "$", "string")


def _absent(v: Value) -> Column:
    return v.value.isNull() | F.is_variant_null(v.value) | ((v.kind == "STRING") & _text(v.value).rlike(BLANK))


def _decimal_scale(kind: Column) -> Column:
    return F.regexp_extract(kind, DECIMAL_TYPE, 2).cast("int")


def _decimal_precision(kind: Column) -> Column:
    return F.regexp_extract(kind, DECIMAL_TYPE, 1).cast("int")


def _is_money(v: Value) -> Column:
    return (((v.kind == "STRING") & _text(v.value).rlike(DECIMAL_TEXT)) | v.kind.rlike(INTEGRAL_TYPES)
            | v.kind.rlike(DECIMAL_TYPE))


def _money_too_many_decimals(v: Value) -> Column:
    # Numerically, not textually: "39.980" is a whole number of cents, "39.985" is not.
    return F.when(v.kind == "STRING", _text(v.value).rlike(r"\.[0-9]{2}[0-9]*[1-9]")).otherwise(
        v.kind.rlike(DECIMAL_TYPE) & (_decimal_scale(v.kind) > 2))


def _money_out_of_range(v: Value) -> Column:
    integer_digits = MAX_INTEGER_DIGITS
    # A string's integer digits are counted as written, leading zeros included.
    return F.when(v.kind == "STRING", _text(v.value).rlike(rf"^-?[0-9]{{{integer_digits + 1}}}")).otherwise(
        F.when(v.kind.rlike(DECIMAL_TYPE), _decimal_precision(v.kind) - _decimal_scale(v.kind) > integer_digits)
        .otherwise(F.abs(F.try_variant_get(v.value, "$", "decimal(38,0)")) >= F.lit(10**integer_digits)))


def _negative(value: Column) -> Column:
    return _text(value).startswith("-") & _text(value).rlike("[1-9]")


def _is_integral(kind: Column) -> Column:
    return kind.rlike(INTEGRAL_TYPES) | (kind.rlike(DECIMAL_TYPE) & (_decimal_scale(kind) == 0))


def line_items(doc: Column) -> Column:
    """The order's items, read leniently as simulator/validation.py reads them: items never decide
    validity, and a piece that is not what the contract says becomes null, never coerced or
    rounded (sku 17, quantity "2" or 2.0, unit_price "1.234" are all null)."""

    names = ("sku", "quantity", "unit_price")

    def typed(item: Column) -> Column:
        sku, quantity, price = (Value(item[name], item[f"{name}_kind"]) for name in names)
        # A quantity is a plain integer literal of at most 18 characters.
        small_int = quantity.kind.rlike(INTEGRAL_TYPES) & (F.length(_text(quantity.value)) <= 18)
        money = _is_money(price) & ~_money_too_many_decimals(price) & ~_money_out_of_range(price)
        return F.struct(
            F.when(sku.kind == "STRING", _text(sku.value)).alias("sku"),
            F.when(small_int, F.try_variant_get(quantity.value, "$", "bigint")).alias("quantity"),
            F.when(money, F.try_variant_get(price.value, "$", MONEY.simpleString())).alias("unit_price"),
        )

    def with_kinds(item: Column) -> Column:
        # Each piece's JSON type once, bound as a lambda variable: the checks ask for it many times.
        values = [field(item, name) for name in names]
        return F.struct(*(v.alias(n) for v, n in zip(values, names)),
                        *(json_type(v).alias(f"{n}_kind") for v, n in zip(values, names)))

    return F.transform(F.transform(F.try_variant_get(doc, "$.items", "array<variant>"), with_kinds), typed)


def checked_fields(kind: EventKind) -> tuple[str, ...]:
    """The fields rule 6 looks at: the required ones, then the optional ones it types."""
    return (*kind.required, *(n for n in ("payment_id", "items") if n in kind.schema.fieldNames()))


def _checks(fields: dict[str, Value], kind: EventKind) -> list[tuple[Column, Column]]:
    """(failed?, reason) pairs in the order the contract's rule 6 is applied."""
    checks: list[tuple[Column, Column]] = []
    for name in kind.required:
        checks.append((_absent(fields[name]), F.lit(f"missing_field:{name}")))
    for name in checked_fields(kind):
        v = fields[name]
        present = v.value.isNotNull() & ~F.is_variant_null(v.value)
        if name in STRING_FIELDS:
            wrong = v.kind != "STRING"
        elif name == "total_amount":
            wrong = ~_is_money(v)
        elif name == "amount_cents":
            wrong = ~_is_integral(v.kind)
        else:  # items
            wrong = ~v.kind.startswith("ARRAY")
        checks.append((present & wrong, F.lit(f"wrong_type:{name}")))
    money = "total_amount" if "total_amount" in kind.required else "amount_cents"
    amount = fields[money]
    checks.append((_negative(amount.value), F.lit(f"negative_amount:{money}")))
    if money == "total_amount":
        checks.append((_money_too_many_decimals(amount), F.lit("too_many_decimals:total_amount")))
        checks.append((_money_out_of_range(amount), F.lit("amount_out_of_range:total_amount")))
    else:
        checks.append((F.try_variant_get(amount.value, "$", "decimal(38,0)") > F.lit(MAX_AMOUNT_CENTS),
                       F.lit("amount_out_of_range:amount_cents")))
    status = _text(fields["status"].value)
    checks.append((~status.isin(*kind.statuses), F.lit("unknown_status")))
    checks.append((~_text(fields["currency"].value).rlike(CURRENCY), F.lit("invalid_currency")))
    event_ts = _text(fields["event_ts"].value)
    checks.append((event_ts.rlike(TIMESTAMP_WITHOUT_ZONE), F.lit("event_ts_without_zone")))
    checks.append((~event_ts.rlike(TIMESTAMP_WITH_ZONE) | event_timestamp(event_ts).isNull(),
                   F.lit("invalid_event_ts")))
    return checks


def with_reason(rows: DataFrame, kind: EventKind) -> DataFrame:
    """`rows` (with `raw_value`) plus `_doc`, the message parsed, and `reason`, the first rule-6
    reason it breaks or null when it is valid.

    The document, each checked field and its JSON type are columns of their own, computed once
    per message: written inline, each of the ~40 checks would parse the message and type the
    field again (common-subexpression elimination skips CASE WHEN branches). A helper column is
    named `_field_<name>` / `_kind_<name>` and dropped at the end.
    """
    columns = _reason_columns(kind)
    return (rows.withColumn("_doc", columns.doc).withColumns(columns.fields).withColumns(columns.kinds)
            .withColumn("reason", columns.reason).drop(*columns.fields, *columns.kinds))


@dataclass(frozen=True)
class _ReasonColumns:
    doc: Column
    fields: dict[str, Column]  # `_field_<name>`: the field's value
    kinds: dict[str, Column]  # `_kind_<name>`: its JSON type
    reason: Column


@cache
def _reason_columns(kind: EventKind) -> _ReasonColumns:
    """with_reason's columns, built once per process and kind: they name columns, not a DataFrame, and
    building the ~40 checks through py4j costs ~1 s, which every Silver run would pay again."""
    names = checked_fields(kind)
    fields = {name: Value(F.col(f"_field_{name}"), F.col(f"_kind_{name}")) for name in names}
    return _ReasonColumns(
        doc=parsed(F.col("raw_value")),
        fields={f"_field_{name}": field(F.col("_doc"), name) for name in names},
        kinds={f"_kind_{name}": json_type(F.col(f"_field_{name}")) for name in names},
        reason=first_reason(F.col("raw_value"), F.col("_doc"), kind, fields),
    )


def first_reason(raw_value: Column, doc: Column, kind: EventKind, fields: dict[str, Value]) -> Column:
    """The first rule-6 reason of a message parsed into `doc`, its checked fields read into `fields`."""
    structural = [
        (raw_value.isNull() | (F.length(raw_value) == 0), F.lit("empty_message")),
        (~F.is_valid_utf8(raw_value), F.lit("invalid_utf8")),
        (doc.isNull() | too_deep(raw_value), F.lit("invalid_json")),
        (~json_type(doc).startswith("OBJECT"), F.lit("not_an_object")),
        *_checks(fields, kind),
    ]
    # Built inside out so the first check in the list wins.
    return reduce(lambda otherwise, check: F.when(check[0], check[1]).otherwise(otherwise),
                  reversed(structural), F.lit(None).cast("string"))


def event_timestamp(event_ts_text: Column) -> Column:
    """ISO-8601 text with a zone -> UTC timestamp (the session runs in UTC); fractions beyond
    microseconds are truncated. Null when the instant falls outside years 1-9999 in UTC, which
    the cast alone would accept ("0000-01-01T00:00:00Z", "9999-12-31T23:59:59-01:00")."""
    instant = event_ts_text.try_cast("timestamp")
    return F.when(F.unix_micros(instant).between(EARLIEST_MICROS, LATEST_MICROS), instant)
