"""Maintenance while `pipeline run` writes: compaction, VACUUM and checkpoints beside streaming Bronze,
Silver's MERGEs and Gold's swaps lose and double nothing, and cut the file count.

Maintenance runs in this process, on its warm Spark session, while `pipeline run` writes from a process of its
own: two JVMs on one lakehouse, as with `pipeline maintain` (whose command line tests/unit/test_cli.py and
test_locks.py run)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from delta.tables import DeltaTable

from harness import reconcile
from pipeline import lakehouse, maintain
from pipeline.bronze.job import BATCH_KEY
from pipeline.tables import BRONZE_TABLES, SILVER_TABLES
from simulator import eventlog
from simulator.oracle import expect as oracle
from simulator.producer import produce
from simulator.scenario import load
from tests.e2e import children
from tests.e2e.test_faults import bronze_is_exactly_once, wait_until

ORDERS = 100
# A machine shared with other Spark jobs may take minutes for what takes seconds alone (7 tables, each a few jobs).
MAINTAIN_SECONDS = 600
CATCH_UP_SECONDS = 600
# While maintenance runs, the second half of the messages trickles in, one every TRICKLE_SECONDS, so that Bronze
# takes micro-batches (and Silver and Gold cycles run) throughout however long it takes; the rest once it is done.
TRICKLE_SECONDS = 0.5


BRONZE_BATCH = "a Bronze micro-batch"


def operations(spark, uri: str) -> list[str]:
    """The table's commits' operations, oldest first; a Bronze micro-batch's as BRONZE_BATCH."""
    history = DeltaTable.forPath(spark, uri).history().orderBy("version").select("operation", "userMetadata").collect()
    return [BRONZE_BATCH if BATCH_KEY in (row["userMetadata"] or "") else row["operation"] for row in history]


class Trickle(threading.Thread):
    """Sends `messages` one every TRICKLE_SECONDS while `busy()`, then the rest at once."""

    def __init__(self, messages, bootstrap: str, busy: Callable[[], bool]):
        super().__init__(daemon=True)
        self.messages, self.bootstrap, self.busy = messages, bootstrap, busy
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            sent = 0
            while sent < len(self.messages) and self.busy():
                produce(self.messages[sent:sent + 1], self.bootstrap, progress=False)
                sent += 1
                time.sleep(TRICKLE_SECONDS)
            produce(self.messages[sent:], self.bootstrap, progress=False)
        except BaseException as error:
            self.error = error


def test_maintain_while_the_pipeline_writes_loses_and_doubles_nothing_and_cuts_the_files(fast, spark, tmp_path):
    lakehouse.empty(fast, spark)
    topics = (fast.topic_order_events, fast.topic_payment_events)
    messages = load("mixed").messages(*topics, orders=ORDERS)
    event_log, half = tmp_path / "events.jsonl", len(messages) // 2
    eventlog.write(event_log, messages)
    log = tmp_path / "run.log"
    produce(messages[:half], fast.kafka_bootstrap, progress=False)
    running = children.start(fast, log, "run")
    try:
        wait_until("a Gold build", lambda: "  gold: " in log.read_text(), running, log)
        pool = ThreadPoolExecutor(1)
        maintaining = pool.submit(maintain.run, spark, fast, maintain.SAFE_RETAIN_HOURS)
        trickle = Trickle(messages[half:], fast.kafka_bootstrap, busy=lambda: not maintaining.done())
        trickle.start()
        try:
            outcomes = maintaining.result(timeout=MAINTAIN_SECONDS)
        finally:
            if not maintaining.done():
                spark.sparkContext.cancelAllJobs()  # maintenance past its bound: its jobs fail, its thread ends
            pool.shutdown()
        trickle.join()
        assert trickle.error is None, f"sending failed: {trickle.error!r}"
        expected = oracle(messages, *topics)

        def caught_up() -> bool:
            try:
                return reconcile.reconcile(fast, expected, [event_log]).matches
            except Exception:  # a table not registered yet, say
                return False

        wait_until("Gold equal to the oracle", caught_up, running, log, poll=1, seconds=CATCH_UP_SECONDS)
    finally:
        children.kill(running)

    rewritten = {outcome.table.name: (outcome.compacted, outcome.written) for outcome in outcomes}
    printed = "\n".join(outcome.line(dry_run=False) for outcome in outcomes)
    maintained = {t.qualified for t in (*BRONZE_TABLES, *SILVER_TABLES)}
    assert maintained <= set(rewritten), printed
    # Gold's model is a view over versions of it (dbt/macros/copy_on_write.sql): the tables are those versions.
    assert any(name.startswith("gold.fct_sales_minute__v") for name in rewritten), printed
    for table in BRONZE_TABLES:
        # Micro-batch after micro-batch into one folder: compaction cuts the files, and Bronze streamed on after it.
        files, into = rewritten[table.qualified]
        assert into < files, printed
        history = operations(spark, table.uri(fast))
        assert BRONZE_BATCH in history[history.index("OPTIMIZE"):], (table.qualified, history)
    assert all(into <= files for files, into in rewritten.values()), printed
    bronze_is_exactly_once(spark, fast, reconcile.logged_messages([event_log]))
