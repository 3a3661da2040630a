"""Tables printed into a pipe: 150 columns, or an exported COLUMNS that is wider."""

from __future__ import annotations

import pytest

from edge_insights.environment import stdout_console


@pytest.mark.parametrize(("columns", "width"), [(None, 150), ("250", 250), ("80", 150), ("wide", 150)])
def test_a_pipe_is_printed_150_wide_or_wider_on_request(monkeypatch, columns, width):
    if columns is None:
        monkeypatch.delenv("COLUMNS", raising=False)
    else:
        monkeypatch.setenv("COLUMNS", columns)
    assert stdout_console().width == width
