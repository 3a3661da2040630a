"""Exclusive advisory locks (``flock(2)``) between processes.

:func:`exclusive_lock` serialises read-change-write cycles on a shared file: two writers that both
read the old file and rename their own over it would otherwise lose one change (a client
registration, a revocation). :func:`hold_lock` keeps a second long-running process (a watcher)
off a store one already owns, and says which process owns it."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO


@contextmanager
def exclusive_lock(lock_path: Path) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``lock_path`` (created empty, folder included, when missing)
    for the ``with`` block; blocks until other holders release it. Released when the block ends,
    or by the kernel when the process dies.

    Raises:
        OSError: the lock file cannot be created or opened.
    """
    lock_path = Path(lock_path)
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


class LockHeld(OSError):
    """Another process holds the lock :func:`hold_lock` asked for; ``holder`` is the pid it wrote
    (None when unreadable)."""

    def __init__(self, lock_path: Path, holder: int | None) -> None:
        super().__init__(f"{lock_path} is held by {'process ' + str(holder) if holder else 'another process'}")
        self.lock_path, self.holder = lock_path, holder


def hold_lock(lock_path: Path) -> TextIO:
    """Take an exclusive ``flock`` on ``lock_path`` without waiting, and write this process's pid in
    it; returns the open file, whose closing (or the process's death, SIGKILL included) releases
    the lock.

    Raises:
        LockHeld: another process holds it.
        OSError: the lock file cannot be created or opened.
    """
    lock_path = Path(lock_path)
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    lock = open(lock_path, "a+")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.seek(0)
        text = lock.read().strip()
        lock.close()
        raise LockHeld(lock_path, int(text) if text.isdigit() else None) from None
    lock.truncate(0)
    lock.write(f"{os.getpid()}\n")
    lock.flush()
    return lock
