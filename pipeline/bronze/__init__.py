"""Bronze: every Kafka message as it arrived, append-only."""
