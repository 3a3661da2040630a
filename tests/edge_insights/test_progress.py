"""Piped output shows a line per stage with elapsed time (``make demo > log`` is never silent)."""

from __future__ import annotations

import io
import re

from rich.console import Console

from edge_insights.progress import Stages


def test_piped_output_prints_a_line_per_stage_and_step():
    out = io.StringIO()
    stages = Stages(Console(file=out, force_terminal=False, width=120))
    with stages.stage("edge_insights_job"):
        stages.step("edge_insights_job: raw_harvest")
    lines = out.getvalue().splitlines()
    assert len(lines) == 3
    assert re.fullmatch(r"\[00:0\d\] edge_insights_job …", lines[0])
    assert re.fullmatch(r"\[00:0\d\]   edge_insights_job: raw_harvest", lines[1])
    assert re.fullmatch(r"\[00:0\d\] edge_insights_job: done in \d+ s", lines[2])
