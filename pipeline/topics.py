"""The two event topics, created up front so every job sees them from its first run."""

from __future__ import annotations

from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import KafkaConnectionError, KafkaTimeoutError, TopicAlreadyExistsError

from pipeline.settings import Settings
from pipeline.stack.kafka import PARTITIONS


class KafkaUnavailable(RuntimeError):
    pass


def ensure_topics(settings: Settings) -> None:
    try:
        admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap, client_id="lakehouse-admin")
    except (KafkaConnectionError, KafkaTimeoutError):
        raise KafkaUnavailable(f"no Kafka broker answers at {settings.kafka_bootstrap}: start the stack with "
                               "`python -m pipeline stack up` or set KAFKA_BOOTSTRAP") from None
    try:
        missing = {settings.topic_order_events, settings.topic_payment_events} - set(admin.list_topics())
        if missing:
            try:
                admin.create_topics([NewTopic(name, PARTITIONS, 1) for name in sorted(missing)])
            except TopicAlreadyExistsError:
                pass  # another producer created it meanwhile
    finally:
        admin.close()
