"""Help panels read as prose: a docstring's later paragraphs are no longer broken where the
source wrapped them, while lists keep their lines."""

from __future__ import annotations

from typer.testing import CliRunner

from edge_insights.cli import app
from edge_insights.help_text import reflow

runner = CliRunner()


def test_erase_help_reads_its_second_paragraph_as_one_flow():
    result = runner.invoke(app, ["erase", "--help"], env={"COLUMNS": "400", "TERMINAL_WIDTH": "400"})
    assert result.exit_code == 0, result.output
    lines = [" ".join(line.split()) for line in result.output.splitlines()]
    # The source wraps after "replaced with <USER> before storage."; at 400 columns the sentence
    # and the next one share a line.
    assert any("replaced with <USER> before storage. Decision logs are rebuilt without the subject's lines"
               in line for line in lines), result.output


def test_reflow_joins_prose_and_keeps_lists():
    doc = """First line
    of the summary.

    A second paragraph wrapped
    at the source's width.

    - one item
    - another item
    """
    assert reflow(doc) == ("First line of the summary.\n\nA second paragraph wrapped at the source's width.\n\n"
                           "- one item\n- another item")


def test_the_root_help_groups_commands_by_what_they_are_for():
    result = runner.invoke(app, ["--help"], env={"COLUMNS": "200", "TERMINAL_WIDTH": "200"})
    assert result.exit_code == 0, result.output
    text = result.output
    panels = ["Run the pipeline", "Serve and evaluate", "Live loop", "Try the parts", "Privacy", "Security"]
    assert [text.index(f"─ {p} ─") for p in panels] == sorted(text.index(f"─ {p} ─") for p in panels)
    # Each command under its panel: demo before serve, scrub under "Try the parts", token under "Security".
    assert text.index("─ Run the pipeline ─") < text.index(" demo ") < text.index("─ Serve and evaluate ─")
    assert text.index("─ Try the parts ─") < text.index(" scrub ") < text.index("─ Privacy ─")
    assert text.index("─ Security ─") < text.index(" token ")
    assert "─ Commands ─" not in text  # every root command has a panel
