import os

import pytest

from chronik.offline.lock import LOCK_FILE, DataDirLocked, lock_data_dir


def test_lock_is_exclusive_and_names_the_holder(tmp_path):
    first = lock_data_dir(tmp_path / "data")
    try:
        assert (tmp_path / "data" / LOCK_FILE).read_text() == str(os.getpid())
        with pytest.raises(DataDirLocked, match=f"pid {os.getpid()}"):
            lock_data_dir(tmp_path / "data")
    finally:
        first.close()
    again = lock_data_dir(tmp_path / "data")  # free once closed
    again.close()
