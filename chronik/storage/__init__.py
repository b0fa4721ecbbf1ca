"""On-disk storage in Kafka's layout: batch headers, segments, logs, compaction, txn index.

No facade: import from the module that holds a name (``chronik.storage.log``,
``chronik.storage.batch``, ...). Storage imports nothing from the broker,
metadata, wire, http or cli packages (import-linter checks it).
"""
