"""Verification of a hash-chained log (:mod:`commons.chain_writer`): the first bad line, and why.

A fault names the file, the line number in that file (1-based) and its kind:

    ``edited``         the line's content does not hash to its ``hash``, its bytes are not the
                       canonical form (:func:`commons.hash_chain.canonical`), or it is no chain line
    ``deleted``        the line's ``prev`` is the hash of no line present: lines are missing
                       before it (or the line before it was rewritten with a fresh hash)
    ``inserted``       the line is not part of the chain: the next lines link past it, or it
                       repeats an earlier line, or it links to a line further back
    ``reordered``      the line links to a line that comes after it
    ``truncated``      the last line is torn (no newline, not JSON), or the log ends before the
                       checkpoint recorded in ``chain-head.json`` (its files emptied or deleted
                       included), or that file is missing although the log holds checkpoints
    ``untrusted_key``  a checkpoint is signed by a key the trusted JWKS does not hold
    ``bad_signature``  a checkpoint's signature does not verify, or its count or head is wrong
    ``unsigned``       a checkpoint carries no signature (a fault only when signatures are required)
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from .chain_checkpoint import CHECKPOINT, UNSIGNED, is_checkpoint, signature_fault
from .chain_writer import HEAD_FILE, log_files
from .hash_chain import GENESIS, canonical, line_hash

NOT_CANONICAL = "not canonical"
"""The ``computed`` hash of a line whose bytes are not its canonical form: it matches no hash."""


@dataclass(frozen=True)
class Fault:
    """The first bad line of a log: ``path``, ``line`` (1-based in that file), ``kind``, ``message``."""

    path: Path
    line: int
    kind: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.kind}: {self.message}"


@dataclass
class Report:
    """What verifying one log found.

    Attributes:
        files: the files read, in chain order.
        lines: lines read.
        checkpoints: checkpoint lines; ``signed``/``unsigned`` of them; ``unchecked`` signatures
            when no trusted keys were given.
        fault: the first bad line, None when the log is intact.
    """

    files: list[Path]
    lines: int = 0
    checkpoints: int = 0
    signed: int = 0
    unsigned: int = 0
    unchecked: int = 0
    fault: Fault | None = None
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Line:
    path: Path
    number: int
    parsed: dict[str, Any] | None  # None: not a JSON object with seq, prev and hash
    computed: str | None
    raw: bytes = b""


def _read(files: list[Path]) -> tuple[list[_Line], _Line | None]:
    """Every line of ``files``; also the torn last line of a file, if any (the first one)."""
    lines, torn = [], None
    for path in files:
        raw = path.read_bytes()
        chunks = raw.split(b"\n")
        whole, rest = chunks[:-1], chunks[-1]
        for number, chunk in enumerate(whole, 1):
            lines.append(_parse(path, number, chunk))
        if rest and torn is None:
            torn = _Line(path, len(whole) + 1, None, None, rest)
            lines.append(torn)
    return lines, torn


def _parse(path: Path, number: int, chunk: bytes) -> _Line:
    try:
        parsed = json.loads(chunk.decode("utf-8"))
        if not (isinstance(parsed, dict) and isinstance(parsed.get("hash"), str)
                and isinstance(parsed.get("prev"), str) and isinstance(parsed.get("seq"), int)):
            raise ValueError
        # The bytes on disk must be the canonical form the hash covers: a duplicate key, a space or
        # an escape the canonical form lacks would let one reader see what the hash never covered.
        computed = line_hash(parsed) if canonical(parsed) == chunk else NOT_CANONICAL
        return _Line(path, number, parsed, computed, chunk)
    except (ValueError, UnicodeDecodeError, TypeError):
        return _Line(path, number, None, None, chunk)


def _torn_json(raw: bytes) -> bool:
    """Whether ``raw`` looks like the start of a JSON line cut short (not some other text)."""
    try:
        json.loads(raw)
    except ValueError:
        return raw.startswith(b"{")
    return False


def _classify(lines: list[_Line], i: int, expected: str, first_at: dict[str, int]) -> Fault:
    """Name the fault at ``lines[i]``, the first line that does not link to ``expected``."""
    line = lines[i]
    at = lambda j, kind, message: Fault(lines[j].path, lines[j].number, kind, message)  # noqa: E731
    whole = line.parsed is not None and line.computed == line.parsed["hash"]
    if whole and first_at.get(line.parsed["prev"], -1) > i:
        return at(i, "reordered", "it links to a line that comes after it")
    for k in range(i + 1, len(lines)):
        if lines[k].parsed is not None and lines[k].parsed["prev"] == expected:
            # Two crashes in a row (a write cut short, then the restarted writer's) leave two torn lines.
            if all(lines[j].parsed is None and _torn_json(lines[j].raw) for j in range(i, k)):
                torn = "a torn line" if k == i + 1 else f"{k - i} torn lines"
                return at(i, "truncated", f"{torn} (a write cut short); the chain goes on after it")
            return at(i, "inserted", f"{k - i} line(s) here are not in the chain: the line after them "
                                     "links to the line before them")
    if not whole:
        if line.computed == NOT_CANONICAL:
            return at(i, "edited", "its bytes are not the canonical JSON its hash covers (a duplicate key, "
                                   "spacing, key order or escapes changed)")
        return at(i, "edited", "its content does not match its hash" if line.parsed is not None
                  else "not a chain line (JSON object with seq, prev, hash)")
    if first_at.get(line.parsed["hash"], i) < i:
        original = lines[first_at[line.parsed["hash"]]]
        return at(i, "inserted", f"a copy of {original.path.name} line {original.number}")
    back = first_at.get(line.parsed["prev"], i)
    if back < i - 1:
        return at(back + 1, "inserted", f"{i - back - 1} line(s) from here on are linked to an earlier line "
                                        f"than the one the chain continues from")
    return at(i, "deleted", "the line it links to is missing (lines were deleted before it, or the line "
                            "before it was rewritten with a fresh hash)")


def _check_checkpoint(report: Report, line: _Line, count: int, trusted: dict[str, Ed25519PublicKey] | None,
                      require_signed: bool) -> Fault | None:
    body = line.parsed[CHECKPOINT]
    report.checkpoints += 1
    at = lambda kind, message: Fault(line.path, line.number, kind, message)  # noqa: E731
    if body.get("head") != line.parsed["prev"] or body.get("lines") != count:
        return at("bad_signature", f"checkpoint claims {body.get('lines')} lines before it, the log "
                                   f"holds {count}, or a head other than the line before it")
    if trusted is None:
        report.unchecked += body.get("sig") is not None
        report.unsigned += body.get("sig") is None
        # With no keys to check signatures against, an unsigned checkpoint is still unsigned.
        return at(UNSIGNED, "checkpoint is not signed") if require_signed and body.get("sig") is None else None
    kind = signature_fault(body, trusted)
    if kind == UNSIGNED:
        report.unsigned += 1
        return at(UNSIGNED, "checkpoint is not signed") if require_signed else None
    if kind is not None:
        return at(kind, f"checkpoint signed by key {body.get('kid')!r}, "
                        + ("which the JWKS does not trust" if kind == "untrusted_key" else "signature does not verify"))
    report.signed += 1
    return None


def verify_log(files: list[Path], trusted: dict[str, Ed25519PublicKey] | None = None, *,
               anchor: str = GENESIS, head_file: Path | None = None, require_signed: bool = False) -> Report:
    """Check the chain of ``files`` (one log, in chain order) and its checkpoints.

    Args:
        files: the log's files, in order.
        trusted: public keys by ``kid`` that checkpoint signatures must verify under; None leaves
            signatures unchecked (counted as ``unchecked``).
        anchor: ``prev`` the first line must carry (:data:`GENESIS`, or the last hash of the file
            before when one file of a longer log is checked alone).
        head_file: the log's ``chain-head.json`` when it applies (the files end the log); None
            skips the truncation check against it.
        require_signed: an unsigned checkpoint is a fault (kind ``unsigned``).

    Returns:
        The :class:`Report`; ``fault`` is the first bad line or None.

    Raises:
        OSError: a file cannot be read.
    """
    report = Report(files=list(files))
    lines, torn = _read(report.files)
    report.lines = len(lines)
    first_at: dict[str, int] = {}
    for i, line in enumerate(lines):
        if line.parsed is not None:
            first_at.setdefault(line.parsed["hash"], i)
    expected = anchor
    offset = lines[0].parsed["seq"] - 1 if lines and lines[0].parsed and anchor != GENESIS else 0
    for i, line in enumerate(lines):
        if line is torn and i == len(lines) - 1:
            report.fault = Fault(line.path, line.number, "truncated", "the last line is torn (no newline)")
            return report
        ok = line.parsed is not None and line.computed == line.parsed["hash"] and line.parsed["prev"] == expected
        if not ok:
            report.fault = _classify(lines, i, expected, first_at)
            return report
        if is_checkpoint(line.parsed):
            report.fault = _check_checkpoint(report, line, offset + i, trusted, require_signed)
            if report.fault:
                return report
        expected = line.parsed["hash"]
    report.fault = _check_head(report, lines, offset, head_file, trusted, require_signed)
    return report


def _check_head(report: Report, lines: list[_Line], offset: int, head_file: Path | None,
                trusted: dict[str, Ed25519PublicKey] | None, require_signed: bool) -> Fault | None:
    """The log must reach the checkpoint its ``chain-head.json`` recorded, with that very line."""
    if head_file is None:
        return None
    if not lines:
        if not head_file.is_file():
            return None
        head = _parse(head_file, 1, head_file.read_bytes().rstrip(b"\n"))
        seq = head.parsed["seq"] if head.parsed is not None else "?"
        return Fault(report.files[0] if report.files else head_file, 1, "truncated",
                     f"the log holds no line, yet its last checkpoint ({head_file.name}) was written as line {seq}")
    last = lines[-1]
    if not head_file.is_file():
        if report.checkpoints:
            return Fault(last.path, last.number, "truncated",
                         f"{head_file.name} is missing although the log holds checkpoints")
        report.notes.append(f"no {head_file.name} yet (no checkpoint written)")
        return None
    head = _parse(head_file, 1, head_file.read_bytes().rstrip(b"\n"))
    if head.parsed is None or head.computed != head.parsed["hash"] or not is_checkpoint(head.parsed):
        return Fault(head_file, 1, "edited", "not a checkpoint line whose content matches its hash")
    position = head.parsed["seq"] - offset - 1
    if position >= len(lines):
        return Fault(last.path, last.number + 1, "truncated",
                     f"the log ends at line {offset + len(lines)} of the chain; its last checkpoint "
                     f"({head_file.name}) was written as line {head.parsed['seq']}")
    if position >= 0 and lines[position].parsed["hash"] != head.parsed["hash"]:
        return Fault(lines[position].path, lines[position].number, "edited",
                     f"differs from the checkpoint recorded in {head_file.name}")
    probe = Report(files=[])
    return _check_checkpoint(probe, head, head.parsed[CHECKPOINT].get("lines"), trusted, require_signed)


def _is_chained(folder: Path, files: list[Path]) -> bool:
    if (folder / HEAD_FILE).is_file():
        return True
    with open(files[0], "rb") as fh:
        first = fh.readline()
    try:
        line = json.loads(first)
    except ValueError:
        return False
    return isinstance(line, dict) and {"prev", "hash"} <= line.keys()


def is_chain_file(path: Path) -> bool:
    """Whether the file ``path`` is part of a chained log: its folder holds a ``chain-head.json``,
    or its first line has ``prev`` and ``hash``. A log whose lines were all rewritten still has its
    head; a file of other text (a summary, plain JSON lines) is not verified as a log."""
    return _is_chained(Path(path).parent, [Path(path)])


def chained_logs(root: Path) -> list[Path]:
    """Folders at or under ``root`` holding a chained log (a ``chain-head.json``, or a first line
    with ``prev`` and ``hash``), sorted; folders of plain JSON lines are left out."""
    found = Path(root).rglob("*.jsonl"), Path(root).rglob(HEAD_FILE)
    folders = sorted({p.parent for paths in found for p in paths} | {Path(root)})
    # A head whose log files are all gone is a log cut to nothing, not a folder to pass over.
    return [f for f in folders if (f / HEAD_FILE).is_file() or ((files := log_files(f)) and _is_chained(f, files))]


def _anchor_of(files: list[Path], anchors: dict[str, int] | None) -> tuple[str, str | None]:
    """The anchor a log starts after: :data:`GENESIS`, or a recorded one (expired day files,
    :mod:`commons.chain_retention`) when the first line links to it at the recorded position."""
    if not files or not anchors:
        return GENESIS, None
    first, _ = _read(files[:1])
    line = first[0].parsed if first else None
    if line is not None and anchors.get(line["prev"]) == line["seq"] - 1:
        return line["prev"], (f"starts after expired lines (anchor {line['prev'][:12]}… at line "
                              f"{line['seq'] - 1}, recorded in the control audit log)")
    return GENESIS, None


def verify_file(path: Path, trusted: dict[str, Ed25519PublicKey] | None = None, *,
                require_signed: bool = False, anchors: dict[str, int] | None = None) -> Report:
    """Check one file of a log alone: its first line must link to the last line of the file before
    it in its folder (or be the log's first line, or follow a recorded anchor: ``anchors``, hash →
    position, see :func:`commons.chain_retention.recorded_anchors`), and when it is the newest file
    the folder's ``chain-head.json`` applies. Raises OSError when a file cannot be read."""
    path = Path(path)
    files = log_files(path.parent)
    before = [f for f in files if f.name < path.name]
    anchor = GENESIS
    if before:
        previous, _ = _read(before[-1:])
        whole = [line for line in previous if line.parsed is not None]
        anchor = whole[-1].parsed["hash"] if whole else GENESIS
    note = None
    if not before:
        anchor, note = _anchor_of([path], anchors)
    newest = not files or path.name >= files[-1].name
    report = verify_log([path], trusted, anchor=anchor, require_signed=require_signed,
                        head_file=path.parent / HEAD_FILE if newest else None)
    report.notes += [note] if note else []
    return report


def verify_folder(folder: Path, trusted: dict[str, Ed25519PublicKey] | None = None, *,
                  require_signed: bool = False, anchors: dict[str, int] | None = None) -> Report:
    """Check the whole log of ``folder`` (every file, then ``chain-head.json``); a log whose head
    files expired may start after one of the recorded ``anchors`` (see :func:`verify_file`).
    Raises OSError."""
    files = log_files(folder)
    anchor, note = _anchor_of(files, anchors)
    report = verify_log(files, trusted, anchor=anchor, head_file=Path(folder) / HEAD_FILE,
                        require_signed=require_signed)
    report.notes += [note] if note else []
    return report
