"""The scrubber as a command: text in, scrubbed text and typed spans out, as JSON lines.

Backs the CLI's ``edge-insights scrub TEXT`` (``-`` reads standard input, one JSON line per input
line). Spans give offsets into the input and the type, never the value: the output of a scrubber
must not carry the PII it removed.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from itertools import islice
from typing import Any, TextIO

from data_quality.pii_engine import BATCH_SIZE, PiiEngine, default_engine

MAX_LINE_CHARS = 100_000
"""Longest input line scrubbed (characters): NER time grows faster than linearly with a text's
length, so a longer line is refused rather than left to run for minutes."""


def scrub_result(text: str, scrubbed: str, spans: Iterable[Any]) -> dict[str, Any]:
    """The JSON-ready result for one input: ``{"text": scrubbed, "spans": [{"start", "end",
    "type"}]}`` with offsets (characters) into the original ``text``."""
    return {"text": scrubbed,
            "spans": [{"start": s.start, "end": s.end, "type": s.kind} for s in spans]}


def scrub_lines(lines: Iterable[str], engine: PiiEngine | None = None) -> Iterator[dict[str, Any]]:
    """One JSON-ready result per input line, in order; lines are scrubbed in batches of
    :data:`~data_quality.pii_engine.BATCH_SIZE` so a stream stays fast.

    A line longer than :data:`MAX_LINE_CHARS` is not scrubbed: its result is ``{"line": n,
    "error": reason}`` (``n`` counts from 1), and the lines around it are scrubbed as usual.
    """
    engine = engine or default_engine()
    numbered = enumerate(lines, start=1)
    while batch := [(number, line.rstrip("\n")) for number, line in islice(numbered, BATCH_SIZE)]:
        fitting = [text for _, text in batch if len(text) <= MAX_LINE_CHARS]
        scrubbed = iter(engine.scrub_batch(fitting))
        for number, text in batch:
            if len(text) > MAX_LINE_CHARS:
                yield {"line": number,
                       "error": f"a line of {len(text):,} characters is over the limit of {MAX_LINE_CHARS:,}"}
            else:
                yield scrub_result(text, *next(scrubbed))


def scrub_command(text: str, stdin: TextIO, stdout: TextIO,
                  engine: PiiEngine | None = None) -> tuple[int, int]:
    """Run ``scrub TEXT``: scrub ``text``, or every line of ``stdin`` when ``text`` is ``"-"``,
    writing one JSON line per input to ``stdout`` (an ``{"line", "error"}`` object for a refused
    one, see :func:`scrub_lines`).

    Returns:
        ``(scrubbed, refused)``: inputs scrubbed and inputs refused as too long.
    """
    counts = [0, 0]
    for result in scrub_lines(stdin if text == "-" else [text], engine):
        stdout.write(json.dumps(result, ensure_ascii=False) + "\n")
        counts["error" in result] += 1
    return counts[0], counts[1]
