"""The design card's room: execute the Jupytext notebooks of ``notebooks/`` against a state folder
and render them to HTML (``make report`` → ``edge-insights report``).

Each notebook is a percent-format ``.py`` file (Jupytext) and an entry point: it reads the state
folder from ``EDGE_INSIGHTS_STATE_DIR``. They run in a fresh ``python3`` kernel whose matplotlib
backend is the kernel's inline one (figures drawn by Agg, kept as PNG in the outputs) with
``MPLCONFIGDIR`` and ``IPYTHONDIR`` under the state folder, so nothing is written to ``$HOME`` or
the source tree; the executed ``.ipynb`` and its ``.html`` land in ``<state>/report/``. The kernel
talks over Unix sockets beside its connection file in ``<state>/cache/jupyter/`` (ZeroMQ's IPC
transport: no TCP port opened, so ipykernel has no plain-text TCP to warn about), or over TCP on
loopback when that path is too long for a socket name.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

NOTEBOOKS_DIR = Path(__file__).resolve().parents[1] / "notebooks"
NOTEBOOKS = ("signals_explorer", "model_report", "edge_in_production")
# sun_path holds 108 bytes on Linux; the kernel's sockets are "<connection file stem>-ipc-N".
SOCKET_PATH_MAX = 100


def notebook_env(state_dir: Path, data_dir: Path) -> dict[str, str]:
    """The kernel's environment: this process's, plus the state and data folders, matplotlib's
    config folder (``<state>/cache/matplotlib``) and IPython's (``<state>/cache/ipython``: its
    profile and history database). ``MPLBACKEND`` is dropped: a caller's ``Agg`` would override
    the inline backend and leave the notebook without figures."""
    mpl, ipython = state_dir / "cache" / "matplotlib", state_dir / "cache" / "ipython"
    for folder in (mpl, ipython):
        folder.mkdir(parents=True, exist_ok=True)
    inherited = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}
    return {**inherited, "EDGE_INSIGHTS_STATE_DIR": str(state_dir), "EDGE_INSIGHTS_DATA_DIR": str(data_dir),
            "MPLCONFIGDIR": str(mpl), "IPYTHONDIR": str(ipython)}


def kernel_manager(state_dir: Path):
    """A ``python3`` kernel manager whose connection file is under ``<state>/cache/jupyter/``,
    on the IPC transport when the socket paths fit (:data:`SOCKET_PATH_MAX`), else on TCP."""
    from jupyter_client.manager import KernelManager

    runtime = state_dir / "cache" / "jupyter"
    runtime.mkdir(parents=True, exist_ok=True)
    connection_file = runtime.resolve() / f"k-{uuid.uuid4().hex[:8]}.json"
    fits = len(str(connection_file.with_suffix("")) + "-ipc-5") <= SOCKET_PATH_MAX
    return KernelManager(kernel_name="python3", connection_file=str(connection_file),
                         transport="ipc" if fits else "tcp")


def run_notebook(name: str, state_dir: Path, data_dir: Path, out_dir: Path, timeout_s: int = 900):
    """Execute ``notebooks/<name>.py`` and write ``<out_dir>/<name>.ipynb`` and ``.html``.

    Args:
        name: one of :data:`NOTEBOOKS`.
        state_dir: the state folder of a finished run.
        data_dir: the real-data folder.
        out_dir: where the executed notebook and its HTML go (created).
        timeout_s: seconds allowed per cell.

    Returns:
        The executed ``nbformat`` notebook.

    Raises:
        nbclient.exceptions.CellExecutionError: a cell raised; the message names the cell and error.
    """
    import jupytext
    import nbformat
    from nbclient import NotebookClient
    from nbconvert import HTMLExporter

    notebook = jupytext.read(NOTEBOOKS_DIR / f"{name}.py")
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    env = notebook_env(state_dir, data_dir)
    km = kernel_manager(state_dir)
    client = NotebookClient(notebook, timeout=timeout_s, kernel_name="python3", km=km,
                            resources={"metadata": {"path": str(NOTEBOOKS_DIR.parent)}})
    # The kernel spec lookup imports IPython here too, which creates its folder ($HOME/.ipython
    # unless IPYTHONDIR says otherwise) on first import.
    previous = os.environ.get("IPYTHONDIR")
    os.environ["IPYTHONDIR"] = env["IPYTHONDIR"]
    try:
        # A client given its manager would leave the kernel running: cleanup_kc stops it and
        # removes its connection file and sockets.
        client.execute(env=env, cleanup_kc=True)
    finally:
        if previous is None:
            os.environ.pop("IPYTHONDIR", None)
        else:
            os.environ["IPYTHONDIR"] = previous
    out_dir.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, out_dir / f"{name}.ipynb")
    html, _ = HTMLExporter().from_notebook_node(notebook)
    (out_dir / f"{name}.html").write_text(html, encoding="utf-8")
    return notebook


def render_report(state_dir: Path, data_dir: Path) -> list[Path]:
    """Every notebook of :data:`NOTEBOOKS` executed and rendered into ``<state>/report/``; the HTML paths."""
    out_dir = state_dir / "report"
    for name in NOTEBOOKS:
        run_notebook(name, state_dir, data_dir, out_dir)
    return [out_dir / f"{name}.html" for name in NOTEBOOKS]
