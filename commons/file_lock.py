"""An exclusive advisory lock (``flock(2)``) that serialises read-change-write cycles on a shared
file across processes: two writers that both read the old file and rename their own over it would
otherwise lose one change (a client registration, a revocation)."""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


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
