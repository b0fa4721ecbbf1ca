"""defer_package_inits: kafka-python's codecs without its clients, crc32c without importlib.metadata,
and everything else of both packages still there on first use.

Each case runs in a fresh interpreter: this one has imported both packages already.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap


def run(code: str) -> str:
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_codecs_import_without_the_client_packages_or_package_metadata():
    out = run("""
        import sys
        from chronik.lazy_imports import defer_package_inits, is_deferred
        print(defer_package_inits())
        from kafka.record.default_records import DefaultRecordBatchBuilder
        from kafka.protocol.producer.produce import ProduceRequest
        from kafka import errors
        from crc32c import crc32c
        assert errors.UnknownTopicOrPartitionError.errno == 3
        assert crc32c(b"123456789") == 0xE3069283
        heavy = sorted(m for m in sys.modules if m.split(".")[:2] in (
            ["kafka", "admin"], ["kafka", "consumer"], ["kafka", "producer"], ["kafka", "net"],
            ["importlib", "metadata"], ["crc32c", "_cli"]))
        print(is_deferred("kafka"), is_deferred("crc32c"), heavy)
    """)
    assert out.splitlines() == ["['kafka', 'crc32c']", "True True []"]


def test_other_names_run_the_real_package_init():
    out = run("""
        from chronik.lazy_imports import defer_package_inits, is_deferred
        defer_package_inits()
        import kafka.record
        import crc32c
        from kafka import KafkaProducer, TopicPartition
        import kafka
        print(is_deferred("kafka"), KafkaProducer.__name__, TopicPartition("t", 1).partition, kafka.__version__ != "")
        print(crc32c.__version__ != "", is_deferred("crc32c"), crc32c.CRC32CHash.__name__)
    """)
    assert out.splitlines() == ["False KafkaProducer 1 True", "True False CRC32CHash"]


def test_nothing_is_deferred_once_imported():
    out = run("""
        import kafka, crc32c
        from chronik.lazy_imports import defer_package_inits, is_deferred
        print(defer_package_inits(), is_deferred("kafka"), is_deferred("crc32c"))
    """)
    assert out == "[] False False"
