"""A process of ours opens an onnxruntime session and an MLflow store with an empty $HOME, and
leaves it empty: the libraries' telemetry files (onnxruntime's device id and event database
under ~/.cache/Microsoft, MLflow's installation id under ~/.config/mlflow) are switched off."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from commons.settings import LIBRARY_OPT_OUTS

# The variables MLflow 3 reads as "a test or CI run" (mlflow.telemetry.utils), telemetry off.
CI_MARKERS = ("PYTEST_CURRENT_TEST", "GITHUB_ACTIONS", "CI", "CIRCLECI", "GITLAB_CI", "JENKINS_URL",
              "TRAVIS", "TF_BUILD", "BITBUCKET_BUILD_NUMBER", "CODEBUILD_BUILD_ARN", "BUILDKITE",
              "TEAMCITY_VERSION", "CLOUD_RUN_EXECUTION", "RUNBOT_HOST_URL", "RUNBOT_BUILD_NAME",
              "RUNBOT_WORKER_ID")

# Builds a one-node ONNX model, runs it, and logs an MLflow run to SQLite, all under `work`.
SCRIPT = textwrap.dedent("""
    import sys
    from pathlib import Path
    {setup}
    import numpy as np, onnx, onnxruntime
    from onnx import TensorProto, helper
    work = Path(sys.argv[1])
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    session = onnxruntime.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    print(session.run(None, {{"x": np.array([-1.0, 2.0], dtype=np.float32)}})[0].tolist())
    import mlflow
    mlflow.set_tracking_uri(f"sqlite:///{{work}}/mlflow.db")
    with mlflow.start_run():
        mlflow.log_metric("m", 1.0)
    print("ok")
""")


def _home_after(tmp_path, setup: str) -> list[str]:
    home, work = tmp_path / f"home{len(setup)}", tmp_path / f"work{len(setup)}"
    home.mkdir()
    work.mkdir()
    # Neither the parent's opt-outs (other tests' Settings.ensure) nor the variables that make
    # MLflow take the process for a test or CI run are inherited: the child is a user's process.
    env = {k: v for k, v in os.environ.items()
           if k not in ("ORT_DISABLE_TELEMETRY", "MLFLOW_DISABLE_TELEMETRY", "DO_NOT_TRACK", *CI_MARKERS)}
    env["HOME"] = str(home)
    env.pop("XDG_CONFIG_HOME", None)
    env.pop("XDG_CACHE_HOME", None)
    done = subprocess.run([sys.executable, "-c", SCRIPT.format(setup=setup), str(work)], env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["[0.0,", "2.0]", "ok"]
    return sorted(str(p.relative_to(home)) for p in home.rglob("*") if p.is_file())


@pytest.mark.slow
def test_the_opt_outs_keep_home_empty_where_the_libraries_would_write(tmp_path):
    without = _home_after(tmp_path, "")
    # What the libraries write when not told otherwise (the reason for the opt-outs).
    assert ".cache/Microsoft/DeveloperTools/.onnxruntime/deviceid" in without
    assert ".config/mlflow/telemetry.json" in without
    setup = "from commons.settings import apply_library_opt_outs; apply_library_opt_outs()"
    assert _home_after(tmp_path, setup) == []
    # A process that never ran the command line (an MLflow pyfunc load of a registered model, a
    # Dagster run worker) loads onnxruntime through the pod's inference module: that is enough.
    assert _home_after(tmp_path, "import serving.inference") == []


def test_the_command_line_switches_them_off_before_any_command_runs():
    # `scrub` imports the name tagger's onnxruntime before it reads any setting: the opt-outs are
    # set when the command line is imported, before a command runs.
    env = {k: v for k, v in os.environ.items() if k not in dict(LIBRARY_OPT_OUTS)}
    done = subprocess.run([sys.executable, "-c", "import os, edge_insights.cli; "
                           "print(os.environ['ORT_DISABLE_TELEMETRY'], os.environ['MLFLOW_DISABLE_TELEMETRY'])"],
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["1", "true"]
