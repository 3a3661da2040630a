"""The appender of a hash-chained log: one folder, its ``*.jsonl`` files in name order.

A log is a folder; its files, sorted by name, are one chain (a decision log rotates by day:
``decisions-YYYYMMDD.jsonl`` sort by date), so the first line of a new file links to the last
line of the one before. A writer never appends to a file that sorts before the newest existing
one (a batch stamped just before midnight still goes to the newest file), so the order of the
files is the order of the chain.

Several processes may append to one log (the demo's edge and central pods share a decision log):
every append holds an exclusive ``flock`` on ``<folder>/.chain.lock`` and re-reads the chain head
from the newest file's last line whenever that file is not as this writer left it.

Each checkpoint (:mod:`commons.chain_checkpoint`; every ``checkpoint_every`` lines and on
:meth:`ChainWriter.checkpoint`) is also copied to ``<folder>/chain-head.json`` (replaced
atomically): the record of how long the log was, so a log cut short before it is caught.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import threading
from pathlib import Path
from typing import Any

from .chain_checkpoint import checkpoint_entry
from .hash_chain import GENESIS, canonical, seal
from .token_keys import SigningKey

HEAD_FILE = "chain-head.json"
LOCK_FILE = ".chain.lock"
LOG_GLOB = "*.jsonl"
DEFAULT_CHECKPOINT_EVERY = 1000
_TAIL_BYTES = 64 * 1024

logger = logging.getLogger(__name__)


def log_files(folder: Path) -> list[Path]:
    """The files of the log in ``folder``, in chain order (by name)."""
    return sorted(Path(folder).glob(LOG_GLOB))


def _last_line(path: Path) -> dict[str, Any] | None:
    """The last whole line of ``path`` parsed, None when the file holds none.

    A crash mid-write leaves a torn line (no JSON object), and a crash of the writer that chained on
    past it can leave one *before* a newline, as the file's last complete line: either stays (the
    verifier reports it) and the chain goes on from the last whole line before it.
    """
    with open(path, "rb") as fh:
        size = fh.seek(0, os.SEEK_END)
        fh.seek(max(0, size - _TAIL_BYTES))
        tail = fh.read()
        last = _last_object(tail, whole=size <= _TAIL_BYTES)
        if last is None and size > _TAIL_BYTES:
            fh.seek(0)
            last = _last_object(fh.read(), whole=True)
    if not tail.endswith(b"\n") and size:
        logger.warning("%s ends in a torn line; chaining on from the last complete line", path)
    return last


def _last_object(data: bytes, whole: bool) -> dict[str, Any] | None:
    """The last complete line of ``data`` that is a JSON object; a ``data`` read from a file's middle
    (not ``whole``) may start inside a line, so its first piece is never taken."""
    pieces = data[:data.rfind(b"\n") + 1].split(b"\n")[:-1]
    for number, piece in reversed(list(enumerate(pieces))):
        if number == 0 and not whole:
            break
        try:
            line = json.loads(piece)
        except ValueError:  # a torn line
            continue
        if isinstance(line, dict):
            return line
    return None


def read_lines(path: Path) -> list[dict[str, Any]]:
    """The complete lines of one log file, parsed, in order, for readers of its records.

    A last line without its newline is still being written (or was cut short by a crash): it is
    left out. A complete line that is no JSON object is a torn line a crash left and a restarted
    writer chained past: it is skipped with a warning naming it, never taken for a record, and
    ``audit verify`` (:mod:`commons.chain_verify`) keeps reporting it as ``truncated``.

    Raises:
        OSError: the file cannot be read.
    """
    raw = Path(path).read_bytes()
    lines, torn = [], []
    # Split on "\n" only: a record's strings may hold U+2028 raw, which str.splitlines cuts at.
    for number, chunk in enumerate(raw[:raw.rfind(b"\n") + 1].split(b"\n")[:-1], 1):
        if not chunk.strip():
            continue
        try:
            line = json.loads(chunk)
        except ValueError:  # a torn line: no JSON (UnicodeDecodeError is a ValueError)
            line = None
        if isinstance(line, dict):
            lines.append(line)
        else:
            torn.append(number)
    if torn:
        logger.warning("%s: skipped %d torn line(s) (line %s); `edge-insights audit verify` reports them",
                       path, len(torn), ", ".join(map(str, torn)))
    return lines


def _torn(path: Path) -> bool:
    with open(path, "rb") as fh:
        if fh.seek(0, os.SEEK_END) == 0:
            return False
        fh.seek(-1, os.SEEK_END)
        return fh.read(1) != b"\n"


class ChainWriter:
    """Thread- and process-safe appender of one chained log folder.

    Args:
        folder: the log's folder; created on first write.
        key: signs checkpoints; None writes unsigned ones.
        checkpoint_every: a checkpoint follows the line whose ``seq`` reaches a multiple of it.
    """

    def __init__(self, folder: Path, key: SigningKey | None, checkpoint_every: int = DEFAULT_CHECKPOINT_EVERY) -> None:
        if checkpoint_every < 1:
            raise ValueError(f"checkpoint_every must be at least 1, got {checkpoint_every}")
        self.folder = Path(folder)
        self.key = key
        self.checkpoint_every = checkpoint_every
        self._lock = threading.Lock()
        self._head = (GENESIS, 0)
        self._stamp: tuple[str, int] | None = None  # (file name, size) as this writer left it
        self._lock_file = None

    def _newest(self) -> Path | None:
        files = log_files(self.folder)
        return files[-1] if files else None

    def _read_head(self) -> tuple[str, int]:
        for path in reversed(log_files(self.folder)):
            last = _last_line(path)
            if last is not None:
                return str(last["hash"]), int(last["seq"])
        return GENESIS, 0

    def append(self, entries: list[dict[str, Any]], file_name: str) -> None:
        """Chain ``entries`` onto the log, in order, in ``file_name`` (or the newest file, when
        that sorts after it), followed by a checkpoint when a multiple of ``checkpoint_every``
        is crossed.

        Raises:
            ValueError: an entry carries a chain member or a value JSON cannot hold.
            OSError: the folder cannot be created or written.
        """
        if entries:
            self._write(entries, file_name, checkpoint_reason=None)

    def checkpoint(self, reason: str) -> None:
        """Append a checkpoint (``reason`` e.g. ``stop``) to a log that has lines; no-op otherwise.

        Raises:
            OSError: the log cannot be written.
        """
        self._write([], None, checkpoint_reason=reason)

    def _write(self, entries: list[dict[str, Any]], file_name: str | None, checkpoint_reason: str | None) -> None:
        with self._lock:
            if self._lock_file is None:
                self.folder.mkdir(parents=True, exist_ok=True)
                self._lock_file = open(self.folder / LOCK_FILE, "a")  # kept open: one open per writer
            fcntl.flock(self._lock_file, fcntl.LOCK_EX)
            try:
                self._write_locked(entries, file_name, checkpoint_reason)
            finally:
                fcntl.flock(self._lock_file, fcntl.LOCK_UN)

    def _write_locked(self, entries: list[dict[str, Any]], file_name: str | None,
                      checkpoint_reason: str | None) -> None:
        newest = self._newest()
        if file_name is None and newest is None:
            return
        fresh = newest is None or self._stamp != (newest.name, newest.stat().st_size)
        prev, seq = self._read_head() if fresh else self._head
        target = self.folder / max(filter(None, (file_name, newest.name if newest else None)))
        lines = []
        for entry in entries:
            seq += 1
            line = seal(entry, prev, seq)
            prev = line["hash"]
            lines.append(line)
            if seq % self.checkpoint_every == 0:
                checkpoint_reason = "interval"
        if checkpoint_reason is not None:
            lines.append(seal(checkpoint_entry(prev, seq, checkpoint_reason, self.key), prev, seq + 1))
            prev, seq = lines[-1]["hash"], seq + 1
        data = b"".join(canonical(line) + b"\n" for line in lines)
        if fresh and target == newest and _torn(target):
            data = b"\n" + data  # never glue a record onto a torn line
        with open(target, "ab") as fh:
            fh.write(data)
        if checkpoint_reason is not None:
            self._write_head(lines[-1])
        self._head = (prev, seq)
        self._stamp = (target.name, target.stat().st_size)

    def close(self) -> None:
        """Release the lock file (the log stays as written; a later write opens it again)."""
        with self._lock:
            if self._lock_file is not None:
                self._lock_file.close()
                self._lock_file = None

    def _write_head(self, line: dict[str, Any]) -> None:
        # Beside the log and renamed over the old one: a reader sees one whole checkpoint.
        partial = self.folder / f".{HEAD_FILE}.{os.getpid()}.partial"
        partial.write_bytes(canonical(line) + b"\n")
        os.replace(partial, self.folder / HEAD_FILE)
