"""Offline tools on a stopped broker's data directory (``chronik segments``).

``lock``: the data-directory lock a broker and these tools share;
``inspect``: read-only views (find partitions, list, dump, verify) that
never open a PartitionLog, because opening runs recovery, which repairs.
Compaction and retention run the storage code itself on logs opened with
the topic's typed configs (``PartitionDir.config``).
"""
