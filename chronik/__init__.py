"""Chronik: a Kafka-compatible broker for the laptop, and a Kafka CLI."""

__version__ = "0.1.0"
