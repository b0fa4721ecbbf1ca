import os

import pytest

from chronik.storage import atomic
from chronik.storage.atomic import atomic_write, fsync_dir
from chronik.storage.atomic import tmp_path as temp_file_of


def test_writes_bytes_text_and_callback(tmp_path):
    p = tmp_path / "f"
    atomic_write(p, b"\x00\x01")
    assert p.read_bytes() == b"\x00\x01"
    atomic_write(p, "héllo\n")
    assert p.read_text(encoding="utf-8") == "héllo\n"
    atomic_write(p, lambda f: f.writelines([b"a", b"b"]))
    assert p.read_bytes() == b"ab"
    assert not temp_file_of(p).exists()


def test_temp_file_is_in_the_same_directory(tmp_path):
    p = tmp_path / "meta.json"
    assert temp_file_of(p) == tmp_path / "meta.json.tmp"


def test_failing_writer_leaves_old_content_and_no_temp_file(tmp_path):
    p = tmp_path / "f"
    p.write_bytes(b"old")

    def boom(f):
        f.write(b"partial")
        raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError):
        atomic_write(p, boom)
    assert p.read_bytes() == b"old"
    assert not temp_file_of(p).exists()


def test_fsyncs_file_then_directory(tmp_path, monkeypatch):
    calls = []
    real_fsync = os.fsync

    def spy(fd):
        calls.append(os.path.isdir(f"/proc/self/fd/{fd}"))
        real_fsync(fd)

    monkeypatch.setattr(atomic.os, "fsync", spy)
    atomic_write(tmp_path / "f", b"x")
    assert calls == [False, True]  # the file, then its directory


def test_fsync_dir(tmp_path):
    fsync_dir(tmp_path)
    with pytest.raises(FileNotFoundError):
        fsync_dir(tmp_path / "missing")


def test_fsync_path_syncs_files_and_directories_and_skips_what_is_gone(tmp_path):
    from chronik.storage.atomic import fsync_path

    f = tmp_path / "f"
    f.write_bytes(b"x")
    assert fsync_path(f) is True and fsync_path(tmp_path) is True
    assert fsync_path(tmp_path / "deleted-by-retention") is False
