"""Retention and erasure on hash-chained logs (:mod:`commons.chain_writer`) without hiding anything.

A chained file is never edited in place. Two operations change a log, each under the log's own
append lock and each recorded in the control audit log (:mod:`commons.control_audit`) by the
caller, with the hashes that let a verifier tell it from tampering:

* **Expiry** (:func:`expire_days`): whole day files older than the retention cutoff are deleted
  from the head of the chain. The first line left then links to a line no longer present; the
  control log records that line's hash and position (the *anchor*), and ``audit verify`` accepts
  a chain starting at a recorded anchor (:func:`recorded_anchors`), and nothing else.
* **Erasure** (:func:`erase_lines`): a subject's lines must leave the files — a tombstone would
  keep the very identifier being erased — so every file from the first one holding the subject
  to the end is rebuilt without those lines, chained on from the untouched prefix, and sealed
  with a checkpoint signed by the control plane's audit key. The old checkpoints go with the old
  lines; the control log records the old and the new head, so the rewrite is provable.
"""

from __future__ import annotations

import fcntl
import json
import os
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, Callable, Iterator

from .chain_checkpoint import checkpoint_entry, is_checkpoint
from .chain_writer import HEAD_FILE, LOCK_FILE, log_files, read_lines
from .hash_chain import GENESIS, canonical, record_of, seal
from .token_keys import SigningKey

EXPIRY_ACTIONS = ("retention", "erasure")


@contextmanager
def _locked(folder: Path) -> Iterator[None]:
    """The same exclusive lock every :class:`~commons.chain_writer.ChainWriter` appends under."""
    with open(Path(folder) / LOCK_FILE, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def file_day(path: Path) -> date | None:
    """The UTC day in a day file's name (``decisions-YYYYMMDD.jsonl``), None for other names."""
    stamp = Path(path).stem.rpartition("-")[2]
    try:
        return datetime.strptime(stamp, "%Y%m%d").date() if len(stamp) == 8 else None
    except ValueError:
        return None


@dataclass
class Expiry:
    """What :func:`expire_days` removed from one log: files, record lines (checkpoints not
    counted), and the anchor the rest starts after (``anchor`` hash and ``anchor_seq``; None when nothing expired)."""

    folder: Path
    files: list[str] = field(default_factory=list)
    lines: int = 0
    anchor: str | None = None
    anchor_seq: int = 0


def expire_days(folder: Path, before: date) -> Expiry:
    """Delete the day files of the log in ``folder`` whose day is before ``before``, oldest first,
    stopping at the first file that is younger (or has no day in its name): only a head of the
    chain can go. When every file goes, ``chain-head.json`` goes too, so the next line starts a
    new chain from genesis.

    Raises:
        OSError: a file cannot be read or removed.
    """
    result = Expiry(Path(folder))
    files = log_files(folder)
    old = []
    for path in files:
        day = file_day(path)
        if day is None or day >= before:
            break
        old.append(path)
    if not old:
        return result
    with _locked(folder):
        for path in old:
            lines = read_lines(path)
            result.lines += sum(not is_checkpoint(line) for line in lines)
            if lines:
                result.anchor, result.anchor_seq = lines[-1]["hash"], lines[-1]["seq"]
        for path in old:
            path.unlink()
            result.files.append(path.name)
        if len(old) == len(files):
            (Path(folder) / HEAD_FILE).unlink(missing_ok=True)
    return result


@dataclass
class Erasure:
    """What :func:`erase_lines` removed from one log: lines per file, and the head before and
    after the rebuild (equal when nothing matched)."""

    folder: Path
    removed: dict[str, int] = field(default_factory=dict)
    old_head: str | None = None
    new_head: str | None = None

    @property
    def lines(self) -> int:
        """Record lines removed from the whole log."""
        return sum(self.removed.values())


def holds(folder: Path, matches: Callable[[dict[str, Any]], bool]) -> bool:
    """Whether a record line of the log in ``folder`` is one ``matches`` picks: the log
    :func:`erase_lines` would rebuild. A line that is no JSON object is passed over (what it is,
    :func:`commons.chain_verify.verify_folder` says).

    Raises:
        OSError: a file cannot be read.
    """
    for path in log_files(folder):
        for raw in path.read_bytes().splitlines():
            try:
                line = json.loads(raw)
            except ValueError:
                continue
            if isinstance(line, dict) and not is_checkpoint(line) and matches(record_of(line)):
                return True
    return False


def erase_lines(folder: Path, matches: Callable[[dict[str, Any]], bool], key: SigningKey | None) -> Erasure:
    """Rebuild the log in ``folder`` without the records ``matches`` picks (see the module
    docstring); ``key`` signs the closing ``erasure`` checkpoint (None: unsigned).

    Raises:
        OSError: a file cannot be read or written.
    """
    result = Erasure(Path(folder))
    files = log_files(folder)
    with _locked(folder):
        parsed = [(path, read_lines(path)) for path in files]
        first = next((i for i, (_, lines) in enumerate(parsed)
                      if any(not is_checkpoint(line) and matches(record_of(line)) for line in lines)), None)
        if first is None:
            return result
        result.old_head = next((lines[-1]["hash"] for _, lines in reversed(parsed) if lines), None)
        opening = parsed[first][1][0]
        prev, seq = opening["prev"], opening["seq"] - 1
        rebuilt: list[tuple[Path, list[dict[str, Any]]]] = []
        for path, lines in parsed[first:]:
            kept = []
            for line in lines:
                if is_checkpoint(line):
                    continue  # it vouched for the old lines; the closing checkpoint vouches for these
                record = record_of(line)
                if matches(record):
                    result.removed[path.name] = result.removed.get(path.name, 0) + 1
                    continue
                seq += 1
                kept.append(seal(record, prev, seq))
                prev = kept[-1]["hash"]
            rebuilt.append((path, kept))
        if seq > 0:
            closing = seal(checkpoint_entry(prev, seq, "erasure", key), prev, seq + 1)
            last = max((i for i, (_, kept) in enumerate(rebuilt) if kept), default=len(rebuilt) - 1)
            rebuilt[last][1].append(closing)
            result.new_head = closing["hash"]
        for path, kept in rebuilt:
            _replace(path, b"".join(canonical(line) + b"\n" for line in kept) if kept else None)
        head = Path(folder) / HEAD_FILE
        if result.new_head is None:
            head.unlink(missing_ok=True)
        else:
            _replace(head, canonical(closing) + b"\n")
    return result


def _replace(path: Path, data: bytes | None) -> None:
    """Write ``path`` whole through a rename (a reader sees the old or the new file), or delete it."""
    if data is None:
        path.unlink(missing_ok=True)
        return
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    partial.write_bytes(data)
    os.replace(partial, path)


def recorded_anchors(events: list[dict[str, Any]]) -> dict[str, int]:
    """Anchors a chain may start after, from control audit events (:func:`commons.control_audit.
    read_events`): ``{hash: seq}`` of every expiry the retention asset recorded."""
    anchors = {}
    for event in events:
        if event.get("action") in EXPIRY_ACTIONS:
            for log in event.get("details", {}).get("chains", []):
                if log.get("anchor") and log["anchor"] != GENESIS:
                    anchors[log["anchor"]] = int(log["anchor_seq"])
    return anchors
