"""Durable broker metadata: topics, configs, producer id blocks, offsets."""
