"""Where a simulator run goes: a Kafka bootstrap address, the two topics, and a home folder for its files.

The simulator knows nothing of the pipeline. A run takes any object with these four attributes
(the pipeline's Settings is one); the command line builds a `Target` from the environment.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

ORDER_TOPIC = "orders.events"
PAYMENT_TOPIC = "payments.events"


class Destination(Protocol):
    """What a run needs: `kafka_bootstrap` is only read when messages are really sent."""

    @property
    def home(self) -> Path: ...

    @property
    def kafka_bootstrap(self) -> str: ...

    @property
    def topic_order_events(self) -> str: ...

    @property
    def topic_payment_events(self) -> str: ...


@dataclass(frozen=True)
class Target:
    """A destination from the environment: KAFKA_BOOTSTRAP, TOPIC_ORDER_EVENTS, TOPIC_PAYMENT_EVENTS, LAKEHOUSE_HOME."""

    home: Path
    bootstrap: str = ""
    topic_order_events: str = ORDER_TOPIC
    topic_payment_events: str = PAYMENT_TOPIC

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None, bootstrap: str = "") -> Target:
        env = dict(os.environ if env is None else env)
        # The same default home as the pipeline's: .lakehouse at the top of the checkout.
        home = Path(env.get("LAKEHOUSE_HOME") or Path(__file__).resolve().parent.parent / ".lakehouse").resolve()
        return cls(
            home=home,
            bootstrap=bootstrap or env.get("KAFKA_BOOTSTRAP") or _embedded_kafka(home),
            topic_order_events=env.get("TOPIC_ORDER_EVENTS") or ORDER_TOPIC,
            topic_payment_events=env.get("TOPIC_PAYMENT_EVENTS") or PAYMENT_TOPIC,
        )

    @property
    def kafka_bootstrap(self) -> str:
        if not self.bootstrap:
            raise ValueError("no Kafka to send to: pass --bootstrap HOST:PORT, set KAFKA_BOOTSTRAP, or start the "
                             "embedded stack with `python -m pipeline stack up`")
        return self.bootstrap


def _embedded_kafka(home: Path) -> str:
    """The address of the embedded stack's Kafka, from the state file `stack up` writes; empty when not running."""
    try:
        port = json.loads((home / "run" / "stack.json").read_text()).get("kafka", {}).get("port")
    except (OSError, ValueError):
        return ""
    return f"127.0.0.1:{port}" if port else ""
