"""What the running stack exposes: every socket it listens on is loopback, and Trino lets the pipeline's
user write, the dashboard's user `bi` only read Gold, and nobody else anything."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import trino

from harness import reconcile
from pipeline import catalog, lakehouse, run
from pipeline.stack import supervisor
from pipeline.stack.process import descendants, listeners
from pipeline.stack.trino import READ_ONLY_USER
from pipeline.tables import ORDERS_CLEAN
from simulator import eventlog
from simulator.model import Message
from simulator import oracle
from simulator.producer import produce
from tests.messages import order, payment, utf8

PROBE = "access_probe"
SCHEMAS = ("bronze_raw", "silver", "gold")
STRANGER = "mallory"


def _command(pid: int) -> str:
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")


def test_every_socket_the_stack_listens_on_is_loopback(settings, stack, spark):
    # The services running now: a test may have restarted one since the session started them.
    servers = {service.name: [service.pid, *descendants(service.pid)] for service in supervisor.status(settings)}
    # The Spark driver is the other JVM below this process (pyspark starts it).
    started = {pid for pids in servers.values() for pid in pids}
    servers["spark"] = [pid for pid in descendants(os.getpid()) if pid not in started and "java" in _command(pid)]
    found = {name: listeners(pids) for name, pids in servers.items()}

    assert all(found.values()), f"a server with no listening socket found: {found}"
    outside = [(name, listener) for name, found_here in found.items() for listener in found_here
               if not listener.is_loopback()]
    assert not outside, f"listening beyond loopback: {outside}"


def _connect(settings, user: str) -> trino.dbapi.Connection:
    return trino.dbapi.connect(host=settings.trino_host, port=settings.trino_http_port, user=user,
                               catalog=catalog.CATALOG)


def _run(settings, user: str, sql: str) -> list[list]:
    connection = _connect(settings, user)
    try:
        cursor = connection.cursor()
        cursor.execute(sql)
        return cursor.fetchall()
    finally:
        connection.close()


@pytest.fixture(scope="module")
def probes(settings, stack):
    """A one-row table in each schema the pipeline writes, made by the pipeline's user, dropped after."""
    for schema in SCHEMAS:
        _run(settings, settings.trino_user, f"CREATE SCHEMA IF NOT EXISTS {catalog.CATALOG}.{schema} "
                                            f"WITH (location = '{catalog.schema_location(settings, schema)}')")
        _run(settings, settings.trino_user, f"CREATE TABLE {catalog.CATALOG}.{schema}.{PROBE} AS SELECT 1 AS x")
    yield
    for schema in SCHEMAS:
        _run(settings, settings.trino_user, f"DROP TABLE IF EXISTS {catalog.CATALOG}.{schema}.{PROBE}")


def _refused(settings, user: str, sql: str) -> bool:
    try:
        _run(settings, user, sql)
    except trino.exceptions.TrinoUserError as error:
        return error.error_name == "PERMISSION_DENIED"
    return False


def _writes(schema: str) -> list[str]:
    table = f"{catalog.CATALOG}.{schema}.{PROBE}"
    return [f"INSERT INTO {table} VALUES (2)", f"DELETE FROM {table}",
            f"CREATE TABLE {catalog.CATALOG}.{schema}.{PROBE}_copy AS SELECT 1 AS x", f"DROP TABLE {table}",
            f"ALTER TABLE {table} ADD COLUMN y integer"]


def test_the_dashboard_user_only_reads_gold(settings, probes):
    assert _run(settings, READ_ONLY_USER, f"SELECT x FROM {catalog.CATALOG}.gold.{PROBE}") == [[1]]

    allowed = [sql for schema in SCHEMAS for sql in _writes(schema) if not _refused(settings, READ_ONLY_USER, sql)]
    allowed += [sql for schema in ("bronze_raw", "silver")
                if not _refused(settings, READ_ONLY_USER, sql := f"SELECT x FROM {catalog.CATALOG}.{schema}.{PROBE}")]
    assert not allowed, f"{READ_ONLY_USER} was not refused: {allowed}"
    # Nothing it tried changed anything.
    assert [_run(settings, settings.trino_user, f"SELECT x FROM {catalog.CATALOG}.{schema}.{PROBE}")
            for schema in SCHEMAS] == [[[1]]] * len(SCHEMAS)


def test_any_other_user_is_refused_everything(settings, probes):
    allowed = [sql for schema in SCHEMAS
               for sql in (f"SELECT x FROM {catalog.CATALOG}.{schema}.{PROBE}", *_writes(schema))
               if not _refused(settings, STRANGER, sql)]
    assert not allowed, f"{STRANGER} was not refused: {allowed}"


# Text a careless pipeline would execute, unescape, render or cut: SQL, quotes and backslashes, HTML,
# control characters, and characters beyond the Basic Multilingual Plane.
PAYLOADS = (
    "'; DROP TABLE delta.gold.fct_sales_minute; --",
    "\"double\" 'single' `back` \\ \\\\ \\n \\u0000",
    "<script>alert('x')</script> &amp; <b>bold</b>",
    "\x01\x07\t\n\r\x1b[31m\x7f control",
    "ünïcødé ✓ 𝔘𝔫𝔦 😀",
)


def _inert_messages(settings) -> list[Message]:
    """For each payload, a fully paid order whose every free-text field carries it. The JSON holds the
    text as UTF-8 (only what JSON must escape is escaped), as a producer outside the team would send it."""
    messages = []
    for number, text in enumerate(PAYLOADS):
        order_id = f"o-{number}-{text}"
        messages += [
            Message(settings.topic_order_events, order_id, order(
                event_id=utf8(f"e-{number}-{text}"), order_id=utf8(order_id), user_id=utf8(f"u-{text}"),
                items=[{"sku": utf8(f"sku-{text}"), "quantity": 1, "unit_price": "10.00"}],
                total_amount="10.00", event_ts=f"2026-11-26T10:{number:02d}:00Z")),
            Message(settings.topic_payment_events, order_id, payment(
                event_id=utf8(f"e-pay-{number}-{text}"), payment_id=utf8(f"p-{text}"), order_id=utf8(order_id),
                amount_cents=1000, event_ts=f"2026-11-26T10:{number:02d}:30Z")),
        ]
    return messages


def test_hostile_text_lands_byte_equal_in_silver_and_in_trino_and_gold_stays_exact(settings, spark, tmp_path):
    lakehouse.empty(settings, spark)
    messages = _inert_messages(settings)
    log = tmp_path / "hostile.jsonl"
    eventlog.write(log, messages)
    produce(messages, settings.kafka_bootstrap, progress=False)
    run.run_once(spark, settings)

    sent = [json.loads(message.value) for message in messages]
    orders = {(m["event_id"], m["order_id"], m["user_id"], m["items"][0]["sku"]) for m in sent if "user_id" in m}
    payments = {(m["event_id"], m["payment_id"], m["order_id"]) for m in sent if "payment_id" in m}
    assert {tuple(row) for row in _run(settings, settings.trino_user, "SELECT event_id, order_id, user_id, "
                                       "items[1].sku FROM delta.silver.orders_clean")} == orders
    assert {tuple(row) for row in _run(settings, settings.trino_user, "SELECT event_id, payment_id, order_id "
                                                                     "FROM delta.silver.payments_clean")} == payments
    spark_orders = spark.read.format("delta").load(ORDERS_CLEAN.uri(settings))
    assert {(r["event_id"], r["order_id"], r["user_id"], r["items"][0]["sku"])
            for r in spark_orders.collect()} == orders
    expected = oracle.expect(messages, settings.topic_order_events, settings.topic_payment_events)
    result = reconcile.reconcile(settings, expected, [log])
    assert result.matches, result.summary("hostile text")
