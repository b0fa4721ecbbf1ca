"""JSON message schemas kafka-python 3 lacks, in Kafka's message-definition format.

kafka-python builds its message classes from these files (`load_json`), so
the codec stays schema-driven: see chronik.wire.kip848 for the classes.
The field definitions follow Apache Kafka 4.x's protocol (KIP-848, KIP-1099).
"""
