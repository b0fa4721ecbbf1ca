"""Sans-IO glue between raw frames and kafka-python's protocol classes."""
