"""Running a child process that may not write a given folder, as a reader of another user's state folder is:
the readers that must still answer there are tested so."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

# Root writes any folder; without these capabilities it is held to the folder's mode like anyone else.
AS_READER = ["setpriv", "--bounding-set=-dac_override,-dac_read_search", "--"] if os.geteuid() == 0 else []


def run_without_write(folder: Path, argv: list[str], **kwargs) -> subprocess.CompletedProcess:
    """Run ``argv`` (text output captured, 120 s at most) while ``folder`` is read-only to it; the folder's
    mode is given back afterwards. ``kwargs`` go to :func:`subprocess.run` (``cwd``, ``env``)."""
    folder.chmod(0o555)
    try:
        return subprocess.run([*AS_READER, *argv], capture_output=True, text=True, timeout=120, **kwargs)
    finally:
        folder.chmod(0o755)
