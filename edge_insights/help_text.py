"""Command help as a terminal shows it.

Docstrings are wrapped at the source's line length; typer's rich panels join the lines of a
command's first paragraph but keep every later paragraph's line breaks, so those read broken
mid-sentence at any other width. :func:`reflow_commands` joins the lines of each prose paragraph
(lists and indented blocks keep theirs) and lets the terminal wrap.
"""

from __future__ import annotations

import inspect
import re

import typer

# A line that starts a list item or a block: its paragraph keeps its line breaks.
_KEEPS_BREAKS = re.compile(r"^(?:\s|[-*•>]\s|\d+[.)]\s)")


def reflow(doc: str) -> str:
    """``doc`` with each prose paragraph on one line; paragraphs stay apart (blank line)."""
    paragraphs = inspect.cleandoc(doc).split("\n\n")
    return "\n\n".join(p if any(_KEEPS_BREAKS.match(line) for line in p.splitlines()) else " ".join(p.split())
                       for p in paragraphs)


def reflow_commands(app: typer.Typer) -> None:
    """Reflow the help of every command of ``app`` and of its sub-apps (their ``help`` set from
    the docstring, which typer otherwise reads as is)."""
    for info in app.registered_commands:
        doc = info.help or (inspect.getdoc(info.callback) if info.callback else None)
        if doc:
            info.help = reflow(doc)
    for group in app.registered_groups:
        if group.typer_instance is not None:
            reflow_commands(group.typer_instance)
