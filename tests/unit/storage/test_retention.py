from chronik.storage.log import LogConfig, PartitionLog
from chronik.storage.retention import RetentionConfig, apply_retention

from .test_support import build_batch, decode

NOW = 1_800_000_000_000


class Clock:
    def __init__(self, now: int = NOW) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


def make_log(tmp_path, clock, **cfg):
    log = PartitionLog(tmp_path / "t-0", LogConfig(segment_bytes=2048, **cfg), now_ms=clock)
    for i in range(60):
        log.append(bytearray(build_batch(2, base_ts=NOW - 100_000 + i * 1000, value_size=100)))
    return log


def test_retention_ms_deletes_old_segments(tmp_path):
    clock = Clock()
    log = make_log(tmp_path, clock)
    n = len(log.segments)
    assert n > 4
    eff = RetentionConfig(retention_ms=50000)
    res = apply_retention(log, eff, NOW)
    assert res.segments_deleted > 0 and res.reason == "retention.ms"
    assert len(log.segments) == n - res.segments_deleted
    assert log.log_start_offset == log.segments[0].base_offset > 0
    for seg in log.segments[:-1]:
        assert NOW - seg.max_timestamp <= 50000
    records = decode(log.read(log.log_start_offset, 1 << 20).data)
    assert records[0][0] == log.log_start_offset
    log.close()
    reopened = PartitionLog(tmp_path / "t-0", LogConfig(segment_bytes=2048), now_ms=clock)
    assert reopened.log_start_offset == res.log_start_offset
    reopened.close()


def test_retention_ms_everything_expired_rolls_active(tmp_path):
    clock = Clock()
    log = make_log(tmp_path, clock)
    end = log.log_end_offset
    res = apply_retention(log, RetentionConfig(retention_ms=1000), NOW + 10**6)
    assert res.segments_deleted > 0
    assert log.log_start_offset == log.log_end_offset == end
    assert len(log.segments) == 1 and log.segments[0].size == 0
    log.close()


def test_retention_bytes(tmp_path):
    log = make_log(tmp_path, Clock())
    eff = RetentionConfig(retention_bytes=5000, retention_ms=-1)
    res = apply_retention(log, eff, NOW)
    assert res.reason == "retention.bytes"
    assert log.size_bytes() <= 5000 + 2048
    assert log.size_bytes() >= 5000 - 2048
    log.close()


def test_compact_only_topic_keeps_segments(tmp_path):
    log = make_log(tmp_path, Clock())
    eff = RetentionConfig(delete=False, retention_ms=1)
    assert apply_retention(log, eff, NOW).segments_deleted == 0
    log.close()


def test_roll_if_due(tmp_path):
    clock = Clock()
    log = PartitionLog(tmp_path / "t-0", LogConfig(segment_ms=1000), now_ms=clock)
    assert not log.roll_if_due()
    log.append(bytearray(build_batch(1)))
    assert not log.roll_if_due()
    clock.now += 2000
    assert log.roll_if_due()
    assert len(log.segments) == 2
    assert not log.roll_if_due()  # empty active segment
    log.close()
