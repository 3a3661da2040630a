"""Exclusive advisory locks (``flock(2)``) between processes.

:func:`exclusive_lock` serialises read-change-write cycles on a shared file: two writers that both
read the old file and rename their own over it would otherwise lose one change (a client
registration, a revocation). :func:`hold_lock` keeps a second long-running process (a watcher)
off a store folder one already owns, and says which process owns it."""

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


class HeldLock:
    """What :func:`hold_lock` took: the folder's ``flock`` and the pid file in it. :meth:`close`
    releases both; so does the process's death, SIGKILL included."""

    def __init__(self, folder_fd: int, pid_file: TextIO) -> None:
        self._folder_fd, self._pid_file = folder_fd, pid_file

    def close(self) -> None:
        """Release the lock."""
        self._pid_file.close()
        os.close(self._folder_fd)


def _pid_in(lock_path: Path) -> int | None:
    try:
        text = lock_path.read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def hold_lock(lock_path: Path) -> HeldLock:
    """Take, without waiting, an exclusive ``flock`` on the folder holding ``lock_path``, and write
    this process's pid in ``lock_path``.

    The lock is on the folder, not the file: a deleted file would free a lock held on it (the
    next process makes a new file and locks that), while a folder holding a store cannot be
    removed under its owner. The file only says who the owner is.

    Raises:
        LockHeld: another process holds it.
        OSError: the folder or the pid file cannot be created or opened.
    """
    lock_path = Path(lock_path)
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    folder = os.open(lock_path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(folder, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(folder)
        raise LockHeld(lock_path, _pid_in(lock_path)) from None
    try:
        pid_file = open(lock_path, "w")
    except OSError:
        os.close(folder)
        raise
    pid_file.write(f"{os.getpid()}\n")
    pid_file.flush()
    return HeldLock(folder, pid_file)
