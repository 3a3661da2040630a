"""The notebooks of notebooks/ execute with nbclient against the tiny run's state folder (after the
drift drill) and render to HTML; their plots and printed figures come from that state."""

from __future__ import annotations

import json
import os

import pytest

from commons.warehouse import Warehouse
from edge_insights.notebooks import NOTEBOOKS, run_notebook
from training.decisions import DECISIONS

# The session's one job run (conftest) counts against the first e2e test's time limit.
pytestmark = pytest.mark.timeout(1500)


def _outputs(notebook) -> tuple[int, str]:
    """(PNG images, all printed text) of an executed notebook."""
    images, text = 0, []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            images += "image/png" in output.get("data", {})
            text.append(output.get("text", ""))
    return images, "".join(text)


@pytest.fixture(scope="module")
def executed(job_run, drill, slice_data, tmp_path_factory):
    settings, _ = job_run
    out = settings.state_dir / "report"
    # An empty home for this process and the kernels: nothing may be written there.
    home, previous = tmp_path_factory.mktemp("home"), os.environ["HOME"]
    os.environ["HOME"] = str(home)
    try:
        notebooks = {name: run_notebook(name, settings.state_dir, slice_data, out) for name in NOTEBOOKS}
    finally:
        os.environ["HOME"] = previous
    return settings, notebooks, home


def test_the_kernels_write_under_the_state_folder_only(executed):
    settings, _, home = executed
    assert list(home.iterdir()) == []  # no ~/.ipython, no ~/.local/share/jupyter
    cache = settings.state_dir / "cache"
    assert (cache / "ipython" / "profile_default").is_dir()
    # Each kernel's connection file and IPC sockets are removed when it stops.
    assert list((cache / "jupyter").iterdir()) == []


def test_every_notebook_renders_html_with_its_plots(executed):
    settings, notebooks, _ = executed
    expected_plots = {"signals_explorer": 2, "model_report": 3, "edge_in_production": 4}
    for name, notebook in notebooks.items():
        images, _ = _outputs(notebook)
        assert images == expected_plots[name], name
        html = (settings.state_dir / "report" / f"{name}.html").read_text()
        assert html.count('<img alt="No description has been provided for this image" class="" src="data:image/png;base64') \
            == images
    assert (settings.state_dir / "cache" / "matplotlib").is_dir()  # MPLCONFIGDIR, not $HOME


def test_signals_explorer_counts_the_warehouse(executed):
    settings, notebooks, _ = executed
    _, text = _outputs(notebooks["signals_explorer"])
    prices = Warehouse(settings.warehouse_path).history("prices")
    assert f"price history: {prices.height} changes of {prices['product_id'].n_unique()} products" in text


def test_model_report_scores_the_shipped_bundles(executed):
    settings, notebooks, _ = executed
    _, text = _outputs(notebooks["model_report"])
    for name in DECISIONS:
        state = json.loads((settings.models_dir / name / "state.json").read_text())
        row = next(line for line in text.splitlines() if line.startswith(name))
        n, kind, oracle, student, baseline = row.split()[1:]
        assert kind == DECISIONS[name].oracle
        # Recomputed from the bundles through the pod's code: the figures the export stages measured.
        assert float(oracle) == pytest.approx(state["central"]["central_f1"], abs=5e-4)
        assert float(student) == pytest.approx(state["bundle"]["shipped_f1"], abs=5e-4)
        assert float(baseline) == pytest.approx(state["baseline"]["f1"], abs=5e-4)


def test_edge_in_production_reports_the_drill_trigger(executed, drill):
    _, notebooks, _ = executed
    _, text = _outputs(notebooks["edge_in_production"])
    shifted = drill["phases"]["shifted"]
    assert f"negative_review · shifted: {shifted['decisions']} decisions, retrain requested after " \
           f"{shifted['request_after']}" in text
    records = drill["phases"]["in_distribution"]["records"]
    assert f"negative_review · in_distribution: {records} decisions, no retrain requested" in text
