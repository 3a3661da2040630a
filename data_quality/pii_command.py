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


def scrub_lines(lines: Iterable[str], engine: PiiEngine | None = None) -> Iterator[str]:
    """One JSON line (no trailing newline) per input line, in order; lines are scrubbed in
    batches of :data:`~data_quality.pii_engine.BATCH_SIZE` so a stream stays fast.

    Raises:
        ValueError: a line is longer than :data:`MAX_LINE_CHARS`.
    """
    engine = engine or default_engine()
    lines = iter(lines)
    while batch := [line.rstrip("\n") for line in islice(lines, BATCH_SIZE)]:
        if too_long := next((line for line in batch if len(line) > MAX_LINE_CHARS), None):
            raise ValueError(f"a line of {len(too_long):,} characters is over the limit of {MAX_LINE_CHARS:,}")
        for text, (scrubbed, spans) in zip(batch, engine.scrub_batch(batch)):
            yield json.dumps(scrub_result(text, scrubbed, spans), ensure_ascii=False)


def scrub_command(text: str, stdin: TextIO, stdout: TextIO,
                  engine: PiiEngine | None = None) -> int:
    """Run ``scrub TEXT``: scrub ``text``, or every line of ``stdin`` when ``text`` is ``"-"``,
    writing one JSON line per input to ``stdout``. Returns the number of inputs scrubbed."""
    count = 0
    for line in scrub_lines(stdin if text == "-" else [text], engine):
        stdout.write(line + "\n")
        count += 1
    return count
