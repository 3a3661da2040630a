"""The scrubber as a command: text in, scrubbed text and typed spans out, as JSON lines.

Backs the CLI's ``edge-insights scrub TEXT`` (``-`` reads standard input, one JSON line per input
line). Spans give offsets into the input and the type, never the value: the output of a scrubber
must not carry the PII it removed.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from itertools import islice
from typing import Any, BinaryIO, TextIO

from data_quality.pii_engine import BATCH_SIZE, PiiEngine, default_engine

MAX_LINE_CHARS = 100_000
"""Longest input line scrubbed (characters): NER time grows faster than linearly with a text's
length, so a longer line is refused rather than left to run for minutes."""


def scrub_result(text: str, scrubbed: str, spans: Iterable[Any]) -> dict[str, Any]:
    """The JSON-ready result for one input: ``{"text": scrubbed, "spans": [{"start", "end",
    "type"}]}`` with offsets (characters) into the original ``text``."""
    return {"text": scrubbed,
            "spans": [{"start": s.start, "end": s.end, "type": s.kind} for s in spans]}


def _refusal(text: str | UnicodeDecodeError) -> str | None:
    """Why a line is not scrubbed, or None."""
    if isinstance(text, UnicodeDecodeError):
        return f"not UTF-8: byte 0x{text.object[text.start]:02x} at offset {text.start}"
    if len(text) > MAX_LINE_CHARS:
        return f"a line of {len(text):,} characters is over the limit of {MAX_LINE_CHARS:,}"
    return None


def _decoded(line: str | bytes) -> str | UnicodeDecodeError:
    if isinstance(line, str):
        return line.rstrip("\n")
    try:
        return line.rstrip(b"\r\n").decode("utf-8")
    except UnicodeDecodeError as err:
        return err


def scrub_lines(lines: Iterable[str | bytes], engine: PiiEngine | None = None) -> Iterator[dict[str, Any]]:
    """One JSON-ready result per input line, in order; lines are scrubbed in batches of
    :data:`~data_quality.pii_engine.BATCH_SIZE` so a stream stays fast.

    A line given as bytes that are not UTF-8, or longer than :data:`MAX_LINE_CHARS`, is not
    scrubbed: its result is ``{"line": n, "error": reason}`` (``n`` counts from 1), and the lines
    around it are scrubbed as usual (a guess at its characters could pass PII through mangled).
    """
    engine = engine or default_engine()
    numbered = enumerate(lines, start=1)
    while batch := [(number, _decoded(line)) for number, line in islice(numbered, BATCH_SIZE)]:
        fitting = [text for _, text in batch if _refusal(text) is None]
        scrubbed = iter(engine.scrub_batch(fitting))
        for number, text in batch:
            refusal = _refusal(text)
            yield {"line": number, "error": refusal} if refusal else scrub_result(text, *next(scrubbed))


def scrub_command(text: str | bytes, stdin: TextIO | BinaryIO, stdout: TextIO,
                  engine: PiiEngine | None = None) -> tuple[int, int]:
    """Run ``scrub TEXT``: scrub ``text`` (a str, or bytes read as UTF-8), or every line of
    ``stdin`` (text, or bytes read as UTF-8) when ``text`` is ``"-"``, writing one JSON line per input to ``stdout`` (an
    ``{"line", "error"}`` object for a refused one, see :func:`scrub_lines`).

    Returns:
        ``(scrubbed, refused)``: inputs scrubbed and inputs refused (too long, or not UTF-8).
    """
    counts = [0, 0]
    for result in scrub_lines(stdin if text == "-" else [text], engine):
        stdout.write(json.dumps(result, ensure_ascii=False) + "\n")
        counts["error" in result] += 1
    return counts[0], counts[1]
