"""Drop-folder intake: batch files left in an inbox folder → records and quarantine rows, once.

Layout of an inbox::

    inbox/
      <name>.jsonl | <name>.csv          batches waiting (partners' drops, webhook batches)
      processed/<crawl_id>/<name>        batches read by the load ``crawl_id``
      refused/<crawl_id>/<name>          batches refused whole by that load, and beside each
      refused/<crawl_id>/<name>.reason.txt   the reason (UTF-8 text, one line)

A batch's id is its file name without the suffix (the webhook names files after the batch id it
answered with); partners dropping files by hand name them uniquely (``<partner>-<date>-<seq>``).

Once-only: a file leaves the inbox root as soon as it has been read, so a later load never reads
it again. A second call with the *same* ``crawl_id`` (a retried step of the same run) reads the
files that id already took once more and returns the same records, so a retry loses nothing;
the warehouse dedupes by content digest. A load whose run failed before its rows were stored
leaves its files under ``processed/<crawl_id>/``; the next load that names it in ``unfinished``
reads them again (the ``raw_pushed`` asset does so for its partition), and moving them back to
the inbox root replays them too. Loads are serialised
by an exclusive lock on ``inbox/.read_inbox.lock``, so two loads never take the same file.
Files whose names collide with one already taken get a ``~<n>`` suffix before they are read.
A name that is not printable UTF-8 (bytes a partner's system wrote in another charset, control
characters) or longer than :data:`MAX_NAME_BYTES` is renamed as it is taken, to its readable part
cut short plus 8 hex digits of its SHA-256: the batch id becomes every record's ``crawl_id``, which
the warehouse stores as UTF-8 text, and the refused file's reason file must fit a file name.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from commons.errors import assert_conserved
from crawlers.intake.batch import SUFFIXES, Batch, BatchRefused, Limits, batch_format, parse_batch
from crawlers.loads import Load

PROCESSED = "processed"
REFUSED = "refused"
LOCK_FILE = ".read_inbox.lock"
REASON_SUFFIX = ".reason.txt"
#: Longest batch file name kept as it is, in bytes: with a ``~<n>`` and :data:`REASON_SUFFIX` it
#: stays under the 255 bytes most file systems allow a name.
MAX_NAME_BYTES = 200


@dataclass
class FileLoad:
    """What one batch file turned into.

    Attributes:
        name: file name (after any collision suffix).
        batch_id: the batch id (``name`` without its suffix).
        status: ``"processed"`` or ``"refused"``.
        path: where the file lies now (under ``processed/`` or ``refused/``).
        rows: data rows read (0 for a refused file).
        records: records it gave.
        quarantined: quarantine rows it gave.
        reason: why it was refused, else None.
    """

    name: str
    batch_id: str
    status: str
    path: Path
    rows: int = 0
    records: int = 0
    quarantined: int = 0
    reason: str | None = None


@dataclass(kw_only=True)
class InboxLoad(Load):
    """What one load of an inbox turned into.

    Attributes:
        crawl_id: id of the load.
        records: ``SignalRecord.to_dict()`` dicts of every processed file, in file-name order.
        quarantine: quarantine rows (stage ``intake``) of every processed file.
        files: one :class:`FileLoad` per file read, processed and refused.
    """

    crawl_id: str
    files: list[FileLoad] = field(default_factory=list)

    @property
    def rows(self) -> int:
        """Data rows read from processed files (refused files have none)."""
        return sum(f.rows for f in self.files)


def read_inbox(inbox_dir: str | Path, crawl_id: str, *, limits: Limits = Limits(),
               unfinished: Iterable[str] = ()) -> InboxLoad:
    """Read every ``*.jsonl`` / ``*.csv`` batch in ``inbox_dir`` and move it out of the way.

    Args:
        inbox_dir: the inbox folder (created with its subfolders if absent).
        crawl_id: id of this load; a folder name, so no ``/``.
        limits: size limits per batch file.
        unfinished: ids of earlier loads whose rows never reached the warehouse (their run
            failed after the load): the files they took are read again, as this load's.

    Returns:
        The :class:`InboxLoad` (files already taken by ``crawl_id`` included, see the module
        docstring).

    Raises:
        ValueError: ``crawl_id`` is not usable as a folder name.
        ConservationError: rows were lost (a bug, never data).
        OSError: the inbox cannot be read or written.
    """
    for load_id in (crawl_id, *unfinished):
        if not load_id or load_id in (".", "..") or "/" in load_id or os.sep in load_id:
            raise ValueError(f"crawl_id {load_id!r} cannot name a folder")
    inbox = Path(inbox_dir)
    done = {PROCESSED: inbox / PROCESSED / crawl_id, REFUSED: inbox / REFUSED / crawl_id}
    for folder in done.values():
        folder.mkdir(parents=True, exist_ok=True)
    load = InboxLoad(crawl_id=crawl_id)
    earlier = [inbox / kind / load_id for load_id in dict.fromkeys(unfinished) if load_id != crawl_id
               for kind in (PROCESSED, REFUSED)]
    with open(inbox / LOCK_FILE, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        for folder in [*done.values(), *earlier]:
            for path in _batch_files(folder):
                _add(load, path, path.name, _read(path, path.name, limits))
        for path in _batch_files(inbox):
            name = _free_name(_safe_name(path.name), done.values())
            result = _read(path, name, limits)
            target = done[PROCESSED if isinstance(result, Batch) else REFUSED] / name
            os.replace(path, target)
            if isinstance(result, BatchRefused):
                target.with_name(name + REASON_SUFFIX).write_text(result.reason + "\n",
                                                                   encoding="utf-8")
            _add(load, target, name, result)
    assert_conserved(load.rows, load.records, load.quarantine, f"inbox {inbox} ({crawl_id})")
    return load


def _read(path: Path, name: str, limits: Limits) -> Batch | BatchRefused:
    """Read one batch file as ``name`` (its batch id is ``name`` without the suffix)."""
    try:
        size = path.stat().st_size
        if size > limits.max_bytes:
            raise BatchRefused(f"batch is {size:,} bytes; the limit is {limits.max_bytes:,}", 413)
        return parse_batch(path.read_bytes(), batch_format(filename=name), _batch_id(name),
                           limits=limits)
    except BatchRefused as exc:
        return exc


def _add(load: InboxLoad, path: Path, name: str, result: Batch | BatchRefused) -> None:
    if isinstance(result, BatchRefused):
        load.files.append(FileLoad(name=name, batch_id=_batch_id(name), status=REFUSED,
                                   path=path, reason=result.reason))
        return
    load.records += result.records
    load.quarantine += result.quarantine
    load.files.append(FileLoad(name=name, batch_id=result.batch_id, status=PROCESSED, path=path,
                               rows=result.rows, records=len(result.records),
                               quarantined=len(result.quarantine)))


def _batch_id(name: str) -> str:
    return name.rpartition(".")[0]


def _batch_files(folder: Path) -> list[Path]:
    # A dotfile is a batch still being written (".part.jsonl"), or no batch at all.
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in SUFFIXES and p.is_file()
                  and not p.name.startswith("."))


def _safe_name(name: str) -> str:
    """``name`` where it is printable UTF-8 of at most :data:`MAX_NAME_BYTES` bytes, else its
    readable part (others as ``_``), cut, ``-`` and 8 hex digits of the raw name's SHA-256."""
    raw = os.fsencode(name)
    if len(raw) <= MAX_NAME_BYTES and name.isprintable() and raw.decode("utf-8", "replace") == name:
        return name
    stem, _, suffix = name.rpartition(".")
    readable = "".join(c if c.isprintable() and c != "\ufffd" else "_"
                       for c in os.fsencode(stem).decode("utf-8", "replace"))
    cut = readable.encode("utf-8")[:MAX_NAME_BYTES - 32].decode("utf-8", "ignore")
    return f"{cut}-{hashlib.sha256(raw).hexdigest()[:8]}.{os.fsencode(suffix).decode('ascii', 'replace').lower()}"


def _free_name(name: str, folders: Iterable[Path]) -> str:
    """``name``, or ``<stem>~<n><suffix>`` when a file of that name was already taken."""
    stem, dot, suffix = name.rpartition(".")
    candidate, n = name, 1
    while any((folder / candidate).exists() for folder in folders):
        n += 1
        candidate = f"{stem}~{n}{dot}{suffix}"
    return candidate
