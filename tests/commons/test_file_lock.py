"""``hold_lock`` on real ``flock(2)`` locks: one owner per folder, told by pid, freed on close."""

from __future__ import annotations

import os

import pytest

from commons.file_lock import LockHeld, hold_lock


def test_a_second_holder_is_refused_and_told_the_owners_pid(tmp_path):
    lock_path = tmp_path / "live" / "watcher.lock"
    first = hold_lock(lock_path)
    with pytest.raises(LockHeld) as refused:
        hold_lock(lock_path)
    assert refused.value.holder == os.getpid()
    first.close()
    hold_lock(lock_path).close()


def test_deleting_the_lock_file_does_not_free_the_lock(tmp_path):
    lock_path = tmp_path / "live" / "watcher.lock"
    first = hold_lock(lock_path)
    lock_path.unlink()
    with pytest.raises(LockHeld) as refused:
        hold_lock(lock_path)
    assert refused.value.holder is None  # the pid file is gone; the lock is not
    first.close()
    hold_lock(lock_path).close()


def test_a_lock_file_that_cannot_be_written_is_an_os_error_and_leaves_the_folder_free(tmp_path):
    lock_path = tmp_path / "live" / "watcher.lock"
    lock_path.mkdir(parents=True)
    with pytest.raises(OSError):
        hold_lock(lock_path)
    lock_path.rmdir()
    hold_lock(lock_path).close()
