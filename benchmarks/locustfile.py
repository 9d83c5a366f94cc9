"""Load tests with locust: one User class per role, each action reported as a locust request.

    ProducerUser   sends a scenario's orders and payments to Kafka. All producer users draw from ONE
                   simulator event stream (order ids come from a counter per stream: two streams would
                   collide) and keep together to --target-rate messages/s. Each send is a request of
                   type "kafka" named after its topic, timed from send() to Kafka's acknowledgement
                   (acks=all), failed with Kafka's exception. Every message sent is recorded, in send
                   order, to the event log (simulator/eventlog.py), so `python -m simulator expected
                   --log LOG` gives the Gold the pipeline must show for exactly what was sent.
    DashboardUser  the live sales dashboard on Trino: `vw_sales_last_60min` and the last 24 hours by
                   minute from `fct_sales_minute`, every --dashboard-wait seconds; tag `baseline` adds
                   `SELECT 1` on the same Trino. Requests of type "trino", named after the panel.
    MarkerUser     (one) every --marker-every seconds a fully paid marker order of its own (benchmarks/
                   markers.py), sent and logged like the rest; a watcher polls Gold through Trino every
                   --marker-poll seconds and reports each marker's freshness (sent -> counted in Gold) as
                   a request of type "freshness". Markers and when they were seen: --marker-log.

Run from the repository root with the stack up (`python -m pipeline stack up`; Kafka and Trino are
found through LAKEHOUSE_HOME like every other command) and, for the markers to arrive, the pipeline
running (`python -m pipeline run`). Bounds are on the command line (or LOCUST_* variables):

    locust -f benchmarks/locustfile.py --headless -u 3 -r 3 -t 5m --csv /tmp/load \\
        --target-rate 200 --event-log /tmp/load.jsonl        # 1 producer, 1 dashboard, 1 marker user
    locust -f benchmarks/locustfile.py DashboardUser --headless -u 20 -r 20 -t 30s --csv /tmp/bi \\
        --dashboard-wait 0                                    # 20 dashboards querying back to back
    python -m simulator expected --log /tmp/load.jsonl       # the Gold those messages must give

Options of this file (locust's own --help does not list them: it prints before loading the file), each
also read from the LOCUST_* variable in brackets:
    --target-rate N      messages/s all ProducerUsers send together (200)          [LOCUST_TARGET_RATE]
    --scenario NAME      simulator scenario (happy_path); --seed S (the scenario's) [LOCUST_SCENARIO, _SEED]
    --event-log PATH     every message sent (LAKEHOUSE_HOME/logs/load-<time>.jsonl) [LOCUST_EVENT_LOG]
    --marker-every S     seconds between marker orders (5)                         [LOCUST_MARKER_EVERY]
    --marker-poll S      seconds between polls of Gold for unseen markers (1)      [LOCUST_MARKER_POLL]
    --marker-log PATH    markers sent and seen (beside the event log)              [LOCUST_MARKER_LOG]
    --dashboard-wait S   a DashboardUser's pause between queries (5; 0: none)      [LOCUST_DASHBOARD_WAIT]

-u counts all users: MarkerUser is always one, the rest are split evenly between ProducerUser and
DashboardUser (name classes to run only those). --target-rate is the producers' total, however many
there are. Event time follows the clock: the scenario's windows are shortened so that, at the target
rate, its orders are created as fast as real time passes, starting now (so the dashboard's last hour
has data and Gold's newest minute is about now). Gold equals the oracle of the event log only when
the load test starts from empty topics and an empty lakehouse (`python -m pipeline reset`, then
`stack up`; the freshness benchmark does the same): order ids restart at o-000001 in every run. Locust may stop users mid-task;
a message is sent and logged as one step that a stop does not cut in two.
"""

from __future__ import annotations

import itertools
import math
import sys
import time
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import gevent
from gevent.lock import Semaphore
from locust import User, constant, events, tag, task

from benchmarks import dashboard, markers
from pipeline.settings import Settings
from simulator import eventlog
from simulator.model import Message
from simulator.producer import PRODUCER_CONFIG
from simulator.scenario import load as load_scenario

# Orders generated up front to learn how many messages an order of the scenario makes, on average.
SAMPLE_ORDERS = 500
# Messages a producer sends in one step when it is behind schedule (at 2,000/s: 25 ms worth).
MOST_AT_ONCE = 50


@events.init_command_line_parser.add_listener
def _options(parser) -> None:
    parser.add_argument("--target-rate", type=float, default=200.0, env_var="LOCUST_TARGET_RATE",
                        help="messages per second that all ProducerUsers send together (default 200)")
    parser.add_argument("--scenario", default="happy_path", env_var="LOCUST_SCENARIO",
                        help="simulator scenario the producers play (default happy_path)")
    parser.add_argument("--seed", type=int, default=None, env_var="LOCUST_SEED",
                        help="simulator seed (default: the scenario's)")
    parser.add_argument("--event-log", default="", env_var="LOCUST_EVENT_LOG",
                        help="event log of every message sent (default LAKEHOUSE_HOME/logs/load-<time>.jsonl)")
    parser.add_argument("--marker-every", type=float, default=5.0, env_var="LOCUST_MARKER_EVERY",
                        help="seconds between marker orders (default 5)")
    parser.add_argument("--marker-poll", type=float, default=1.0, env_var="LOCUST_MARKER_POLL",
                        help="seconds between polls of Gold for the markers not seen yet (default 1)")
    parser.add_argument("--marker-log", default="", env_var="LOCUST_MARKER_LOG",
                        help="when each marker was sent and seen (default: beside the event log, .markers.jsonl)")
    parser.add_argument("--dashboard-wait", type=float, default=5.0, env_var="LOCUST_DASHBOARD_WAIT",
                        help="seconds a DashboardUser waits between queries (default 5; 0: back to back)")


class KafkaClient:
    """kafka-python's producer as a locust client: each send is reported as a request (type "kafka", name =
    topic) when Kafka acknowledges it or refuses it, timed from send()."""

    def __init__(self, bootstrap: str, request_event) -> None:
        from kafka import KafkaProducer

        self._producer = KafkaProducer(bootstrap_servers=bootstrap, **PRODUCER_CONFIG)
        self._request = request_event
        self.acknowledged = self.failed = 0

    def send(self, message: Message) -> None:
        started = time.perf_counter()
        key = None if message.key is None else message.key.encode("utf-8")
        future = self._producer.send(message.topic, key=key, value=message.value)
        size = len(message.value or b"")
        future.add_callback(self._report, message.topic, started, size, None)
        future.add_errback(self._failed, message.topic, started, size)

    def close(self) -> None:
        self._producer.flush()
        self._producer.close(timeout=10)

    def _failed(self, topic: str, started: float, size: int, error: BaseException) -> None:
        self._report(topic, started, size, error, None)

    def _report(self, topic: str, started: float, size: int, error: BaseException | None, _metadata) -> None:
        if error is None:
            self.acknowledged += 1
        else:
            self.failed += 1
        self._request.fire(request_type="kafka", name=topic, response_time=(time.perf_counter() - started) * 1000,
                           response_length=size, exception=error, context={})


class TrinoClient:
    """A Trino connection as a locust client: each query is a request (type "trino", named by the caller),
    timed from execute() to the last row fetched; response_length is the number of rows."""

    def __init__(self, settings: Settings, request_event) -> None:
        self._settings = settings
        self._request = request_event
        self._connection = None

    def query(self, name: str, sql: str) -> None:
        from pipeline import catalog

        started = time.perf_counter()
        rows, error = 0, None
        try:
            if self._connection is None:
                self._connection = catalog.connect(self._settings)
            cursor = self._connection.cursor()
            cursor.execute(sql)
            rows = len(cursor.fetchall())
        except Exception as failure:  # noqa: BLE001 -- reported to locust as the request's failure
            error, self._connection = failure, None
        self._request.fire(request_type="trino", name=name, response_time=(time.perf_counter() - started) * 1000,
                           response_length=rows, exception=error, context={})


class Producing:
    """What the producer users and the marker user share: one Kafka client, one simulator stream, one event log,
    one schedule (the n-th message is due n / target-rate seconds after the start)."""

    def __init__(self, environment) -> None:
        options = environment.parsed_options
        self.settings = Settings.from_env()
        self.rate = options.target_rate
        if not self.rate > 0:
            raise ValueError(f"--target-rate must be above 0, not {self.rate}")
        self.run_id = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S")
        self.event_log = Path(options.event_log or self.settings.home / "logs" / f"load-{self.run_id}.jsonl")
        self.client = KafkaClient(self.settings.kafka_bootstrap, environment.events.request)
        self._topics = (self.settings.topic_order_events, self.settings.topic_payment_events)
        self._stream = clock_following_stream(options.scenario, self._topics, options.seed, self.rate,
                                              datetime.now(timezone.utc))
        self._log = eventlog.LogWriter(self.event_log)
        self._lock = Semaphore()
        self._closed = False
        self._started = time.monotonic()
        self._slots = 0
        self._markers = 0

    def claim(self) -> tuple[float, int]:
        """The next messages to send: (when they are due, on time.monotonic, how many). One when on time; when
        behind, all that are due (at most MOST_AT_ONCE), so that a high rate costs one step per batch."""
        now = time.monotonic()
        overdue = math.floor((now - self._started) * self.rate) + 1 - self._slots
        due, count = (now, min(overdue, MOST_AT_ONCE)) if overdue > 0 else (self._started + self._slots / self.rate, 1)
        self._slots += count
        return due, count

    def send_next(self, count: int) -> None:
        self._in_one_step(lambda: itertools.islice(self._stream, count))

    def send_marker(self) -> tuple[str, float]:
        """Send a new marker order; returns its id and when it was sent (epoch seconds)."""
        self._markers += 1
        order_id = f"{markers.PREFIX}{self.run_id}-{self._markers:05d}"
        sent_at = time.time()
        self._in_one_step(lambda: markers.marker_messages(order_id, datetime.fromtimestamp(sent_at, timezone.utc),
                                                          *self._topics))
        return order_id, sent_at

    def close(self) -> None:
        with self._lock:  # after any send in progress
            self._closed = True
            self.client.close()
            self._log.close()

    @property
    def logged(self) -> int:
        return self._log.written

    def _in_one_step(self, take) -> None:
        # Locust kills users mid-task when a test stops. In a greenlet of its own, a step either has not
        # started or completes: every message taken is both sent and logged, in the same order.
        gevent.spawn(self._step, take).get()

    def _step(self, take) -> None:
        with self._lock:
            if self._closed:
                return
            for message in take():
                self.client.send(message)
                self._log.append(message)


def clock_following_stream(scenario_name: str, topics: tuple[str, str], seed: int | None, rate: float,
                           start: datetime):
    """The scenario's endless stream from `start`, its windows shortened so that at `rate` messages/s event time
    passes as fast as the clock."""
    scenario = load_scenario(scenario_name)
    per_order = len(scenario.messages(*topics, orders=SAMPLE_ORDERS, seed=seed)) / SAMPLE_ORDERS
    window = timedelta(seconds=scenario.orders * per_order / rate)
    return replace(scenario, knobs=replace(scenario.knobs, window=window)).endless(*topics, seed=seed, start=start)


_producing: Producing | None = None
# Building the shared state talks to Kafka, so other users' on_start run meanwhile: they wait for the one.
_creating = Semaphore()


def producing(environment) -> Producing:
    global _producing
    with _creating:
        if _producing is None:
            _producing = Producing(environment)
    return _producing


class ProducerUser(User):
    """Sends the shared stream's next messages when they are due; together the producers keep --target-rate."""

    wait_time = constant(0)  # the shared schedule paces the sends

    def on_start(self) -> None:
        self.producing = producing(self.environment)

    @task
    def send_next(self) -> None:
        due, count = self.producing.claim()
        delay = due - time.monotonic()
        if delay > 0:
            gevent.sleep(delay)
        self.producing.send_next(count)


class DashboardUser(User):
    """The live sales dashboard: its two panels' queries, then --dashboard-wait seconds of looking at them."""

    def wait_time(self) -> float:
        return self.environment.parsed_options.dashboard_wait

    def on_start(self) -> None:
        self.trino = TrinoClient(Settings.from_env(), self.environment.events.request)

    @task
    def last_60_minutes(self) -> None:
        self.trino.query("vw_sales_last_60min", dashboard.QUERIES["vw_sales_last_60min"])

    @task
    def last_24_hours(self) -> None:
        self.trino.query("fct_sales_minute last 24h", dashboard.QUERIES["fct_sales_minute last 24h"])

    @tag("baseline")
    @task
    def select_one(self) -> None:
        self.trino.query(*dashboard.BASELINE)


class MarkerUser(User):
    """Sends a marker order every --marker-every seconds; the watcher reports when Gold counts it."""

    fixed_count = 1

    def on_start(self) -> None:
        self.producing = producing(self.environment)
        self.watcher = freshness_watcher(self.environment, self.producing)
        self.every = self.environment.parsed_options.marker_every
        self._next = time.monotonic()

    def wait_time(self) -> float:
        return max(0.0, self._next - time.monotonic())

    @task
    def send_marker(self) -> None:
        self._next = time.monotonic() + self.every
        order_id, sent_at = self.producing.send_marker()
        self.watcher.expect(order_id, sent_at)


class FreshnessWatcher:
    """Polls Gold for the markers not seen yet (one query for all of them); reports each marker's freshness
    once, when it is first seen, and writes both instants to the marker log."""

    def __init__(self, settings: Settings, log_path: Path, poll: float, request_event) -> None:
        self._settings, self._poll, self._request = settings, poll, request_event
        self._log = markers.MarkerLog(log_path)
        self.pending: dict[str, float] = {}  # order id -> sent at (epoch seconds)
        self._greenlet: gevent.Greenlet | None = None

    def start(self) -> None:
        self._greenlet = gevent.spawn(self._run)

    def stop(self) -> None:
        if self._greenlet is not None:
            self._greenlet.kill()
        self._log.close()

    def expect(self, order_id: str, sent_at: float) -> None:
        self.pending[order_id] = sent_at
        self._log.produced(order_id, sent_at)

    def _run(self) -> None:
        from pipeline import catalog

        connection = None
        while True:
            gevent.sleep(self._poll)
            if not self.pending:
                continue
            try:
                connection = connection or catalog.connect(self._settings)
                since = datetime.fromtimestamp(min(self.pending.values()), timezone.utc)
                seen = markers.seen_in_gold(connection.cursor(), list(self.pending), since)
            except Exception as error:  # noqa: BLE001 -- Gold not built yet, or Trino busy: poll again
                connection = None
                print(f"locustfile: polling Gold for markers: {str(error).splitlines()[0][:200]}", file=sys.stderr)
                continue
            now = time.time()
            for order_id in seen:
                sent_at = self.pending.pop(order_id)
                self._log.seen(order_id, now)
                self._request.fire(request_type="freshness", name="marker order in Gold",
                                   response_time=(now - sent_at) * 1000, response_length=0, exception=None,
                                   context={})


_freshness: FreshnessWatcher | None = None


def freshness_watcher(environment, shared: Producing) -> FreshnessWatcher:
    global _freshness
    with _creating:
        if _freshness is None:
            options = environment.parsed_options
            path = Path(options.marker_log or shared.event_log.with_suffix(".markers.jsonl"))
            _freshness = FreshnessWatcher(shared.settings, path, options.marker_poll, environment.events.request)
            _freshness.start()
    return _freshness


@events.test_stop.add_listener
def _stop(environment, **_kwargs) -> None:
    global _freshness, _producing
    unseen = 0
    if _freshness is not None:
        unseen = len(_freshness.pending)
        _freshness.stop()
        _freshness = None
    if _producing is not None:
        _producing.close()
        client = _producing.client
        print(f"locustfile: {_producing.logged:,} messages sent and logged in {_producing.event_log} "
              f"({client.acknowledged:,} acknowledged, {client.failed:,} refused by Kafka); "
              f"{unseen:,} markers not seen in Gold yet", file=sys.stderr)
        _producing = None
