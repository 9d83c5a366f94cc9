"""The lakehouse pipeline: Kafka -> Bronze -> Silver -> Gold, and the stack it runs on."""
