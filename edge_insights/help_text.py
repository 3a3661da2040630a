"""Command help as a terminal shows it.

Docstrings are wrapped at the source's line length; typer's rich panels join the lines of a
command's first paragraph but keep every later paragraph's line breaks, so those read broken
mid-sentence at any other width. :func:`reflow_commands` joins the lines of each prose paragraph
(lists and indented blocks keep theirs) and lets the terminal wrap. It also sorts the root
commands into panels by what they are for (:data:`PANELS`), in the order a user meets them.
"""

from __future__ import annotations

import inspect
import re

import typer

# Root command → its panel in ``edge-insights --help``; typer lists panels as first met, so the
# commands are registered in this order too.
PANELS = {
    "demo": "Run the pipeline", "report": "Run the pipeline", "ui": "Run the pipeline",
    "crawl": "Run the pipeline", "drift-drill": "Run the pipeline",
    "serve": "Serve and evaluate", "evaluate": "Serve and evaluate",
    "watch": "Live loop", "decide": "Live loop", "market": "Live loop", "insights": "Live loop",
    "deliveries": "Live loop", "redeliver": "Live loop", "explain": "Live loop", "intake": "Live loop",
    "extract": "Try the parts", "parse-price": "Try the parts", "scrub": "Try the parts",
    "privacy": "Privacy", "erase": "Privacy",
    "token": "Security", "audit": "Security", "revoke": "Security", "revoke-key": "Security",
    "revoke-refresh": "Security", "release-keys": "Security",
}
# A line that starts a list item or a block: its paragraph keeps its line breaks.
_KEEPS_BREAKS = re.compile(r"^(?:\s|[-*•>]\s|\d+[.)]\s)")


def reflow(doc: str) -> str:
    """``doc`` with each prose paragraph on one line; paragraphs stay apart (blank line)."""
    paragraphs = inspect.cleandoc(doc).split("\n\n")
    return "\n\n".join(p if any(_KEEPS_BREAKS.match(line) for line in p.splitlines()) else " ".join(p.split())
                       for p in paragraphs)


def reflow_commands(app: typer.Typer, *, root: bool = True) -> None:
    """Reflow the help of every command of ``app`` and of its sub-apps (their ``help`` set from
    the docstring, which typer otherwise reads as is); on the root app, order the commands and
    groups by :data:`PANELS` and put each in its panel."""
    for info in app.registered_commands:
        doc = info.help or (inspect.getdoc(info.callback) if info.callback else None)
        if doc:
            info.help = reflow(doc)
    for group in app.registered_groups:
        if group.typer_instance is not None:
            reflow_commands(group.typer_instance, root=False)
    if root:
        order = list(PANELS)
        for entries in (app.registered_commands, app.registered_groups):
            entries.sort(key=lambda e: order.index(_name(e)) if _name(e) in PANELS else len(order))
            for entry in entries:
                entry.rich_help_panel = PANELS.get(_name(entry), entry.rich_help_panel)


def _name(entry: object) -> str:
    name = getattr(entry, "name", None)
    callback = getattr(entry, "callback", None)
    return name or (callback.__name__.replace("_", "-") if callback else "")
