"""Progress of long commands: a live bar on a terminal, a plain line per stage otherwise.

Piped output (``make demo > log``, CI) gets one ``[mm:ss] stage …`` line when a stage starts and
one when it ends, so a log shows where a run is and how long each part took.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from typing import Iterator

from rich.console import Console


class Stages:
    """Announces stages on ``console``; elapsed times count from construction."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.started = time.monotonic()
        self._status = None

    def _stamp(self) -> str:
        elapsed = int(time.monotonic() - self.started)
        return f"[{elapsed // 60:02d}:{elapsed % 60:02d}]"

    @contextmanager
    def stage(self, description: str) -> Iterator["Stages"]:
        """Run a ``with`` block as one stage: a spinner on a terminal, start/end lines otherwise."""
        began = time.monotonic()
        if self.console.is_terminal:
            with self.console.status(description) as status:
                self._status = status
                yield self
            self._status = None
        else:
            self.console.print(f"{self._stamp()} {description} …", highlight=False)
            yield self
        self.console.print(f"{self._stamp()} {description}: done in {time.monotonic() - began:.0f} s",
                           highlight=False)

    def step(self, description: str) -> None:
        """A step inside the current stage (e.g. the asset now running)."""
        if self._status is not None:
            self._status.update(description)
        else:
            self.console.print(f"{self._stamp()}   {description}", highlight=False)
