"""The embedded stack: Kafka and Trino as local processes, JVM artifacts from Maven Central."""
