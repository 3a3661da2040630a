# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Model report
#
# Per decision, on its held-out evaluation split (products never trained on): the central oracle (the
# teacher, or for price_spike and urgent_inventory the label rule itself, served as the central
# bundle), the edge student as shipped (its ONNX graph) and the
# logistic-regression baseline; confusion matrices of oracle and student; reliability diagrams of the
# shipped student before (T = 1) and after temperature scaling (Guo et al. 2017). Both bundles are
# scored here through the pod's own code (`serving.bundle_model.model_of`: the latest build, which
# carries a release signature only when it passed the gate). The state folder
# comes from `EDGE_INSIGHTS_STATE_DIR`.

# %%
import json
import os
import warnings
from pathlib import Path

# tqdm.auto, imported on the way to the bundle code, warns in a kernel without ipywidgets; the report
# draws no progress bar, so the warning would only be a stderr cell in the HTML.
warnings.filterwarnings("ignore", message="IProgress not found")

import matplotlib.pyplot as plt
import numpy as np

from commons.manifest import load_manifest, oracle_kind
from commons.warehouse import Warehouse
from edge_export.bundle import EVAL_BATCH
from serving.bundle_model import model_of
from serving.inference import EdgeModel, softmax
from training.calibration import ECE_BINS, expected_calibration_error
from training.decisions import DECISIONS
from training.features import examples_of
from training.metrics import prf

STATE = Path(os.environ["EDGE_INSIGHTS_STATE_DIR"])
warehouse = Warehouse(STATE / "warehouse.duckdb")


def scored(decision: str) -> dict:
    """Eval labels, logits of the shipped edge bundle and probabilities of the central bundle
    (a teacher graph or the label rule, opened as a pod opens it)."""
    edge = EdgeModel(STATE / "bundles" / decision / "edge")
    # As its pod feeds it: empty texts for a student that ignores its text field.
    evaluation, labels = examples_of(warehouse, decision, "eval", text=edge.manifest.get("text_fields") != [])
    central = model_of(STATE / "bundles" / decision / "central",
                       load_manifest(STATE / "bundles" / decision / "central"))
    # In the export stage's batches: dynamic int8 scales activations per batch.
    edge_logits = np.concatenate([edge.logits(part.texts, part.numeric) for part in
                                  (evaluation.take(range(i, min(i + EVAL_BATCH, len(labels))))
                                   for i in range(0, len(labels), EVAL_BATCH))])
    return {"labels": labels, "edge": edge_logits,
            "edge_temperature": edge.temperature, "oracle": oracle_kind(central.manifest),
            "central": central.predict(evaluation.texts, evaluation.numeric)[1]}


results = {name: scored(name) for name in DECISIONS}
states = {name: json.loads((STATE / "models" / name / "state.json").read_text()) for name in DECISIONS}

# %% [markdown]
# ## Oracle vs student vs baseline
#
# F1 of the alert class on the eval split. The oracle and student F1 are recomputed here from the
# bundles; the baseline's is the one the student stage measured on the same split.

# %%
rows = []
for name, r in results.items():
    y = r["labels"]
    rows.append((name, len(y), prf(y, r["central"].argmax(1))["f1"], prf(y, r["edge"].argmax(1))["f1"],
                 states[name]["baseline"]["f1"], r["oracle"]))
print(f"{'decision':<18}{'eval n':>8}{'oracle':>8}{'oracle F1':>11}{'student F1':>12}{'baseline F1':>13}")
for name, n, oracle, student, baseline, kind in rows:
    print(f"{name:<18}{n:>8}{kind:>8}{oracle:>11.3f}{student:>12.3f}{baseline:>13.3f}")

fig, ax = plt.subplots(figsize=(9, 3.8))
x = np.arange(len(rows))
for i, (label, column, color) in enumerate((("central oracle", 2, "tab:purple"),
                                             ("edge student (shipped)", 3, "tab:blue"),
                                             ("baseline (logistic regression)", 4, "tab:gray"))):
    ax.bar(x + (i - 1) * 0.27, [row[column] for row in rows], width=0.27, label=label, color=color)
ax.set_xticks(x, [row[0] for row in rows])
ax.set_ylabel("F1 of the alert class (eval split)")
ax.set_ylim(0, 1.05)
ax.legend(fontsize=8, loc="lower right")
ax.set_title("Oracle vs student vs baseline")
fig.tight_layout()
plt.show()

# %% [markdown]
# ## Confusion matrices
#
# Rows: true label; columns: predicted label; counts of eval examples.

# %%
fig, axes = plt.subplots(len(results), 2, figsize=(8, 3.2 * len(results)), squeeze=False)
for row, (name, r) in enumerate(results.items()):
    labels = json.loads((STATE / "bundles" / name / "edge" / "manifest.json").read_text())["labels"]
    for col, role in enumerate(("central", "edge")):
        matrix = np.zeros((2, 2), dtype=int)
        np.add.at(matrix, (r["labels"], r[role].argmax(1)), 1)
        ax = axes[row, col]
        ax.imshow(matrix, cmap="Blues")
        for (i, j), count in np.ndenumerate(matrix):
            ax.text(j, i, str(count), ha="center", va="center",
                    color="white" if count > matrix.max() / 2 else "black")
        ax.set_xticks([0, 1], labels)
        ax.set_yticks([0, 1], labels)
        ax.set_xlabel("predicted label")
        ax.set_ylabel("true label")
        ax.set_title(f"{name}: {'central oracle' if role == 'central' else 'edge student'}", fontsize=9)
fig.tight_layout()
plt.show()

# %% [markdown]
# ## Reliability of the shipped student: before and after calibration
#
# Confidence (largest softmax probability) in equal-width bins against the share of correct answers
# in each bin; the diagonal is perfect calibration. ECE uses the same 15 bins as training.

# %%
fig, axes = plt.subplots(1, len(results), figsize=(4.2 * len(results), 4), squeeze=False)
edges = np.linspace(0.5, 1.0, 11)
for ax, (name, r) in zip(axes[0], results.items()):
    for temperature, label, color in ((1.0, "before (T = 1)", "tab:orange"),
                                      (r["edge_temperature"], f"after (T = {r['edge_temperature']:.2f})", "tab:blue")):
        probs = softmax(r["edge"], temperature)
        confidence, correct = probs.max(1), probs.argmax(1) == r["labels"]
        bins = np.clip(np.digitize(confidence, edges) - 1, 0, len(edges) - 2)
        filled = [b for b in range(len(edges) - 1) if (bins == b).any()]
        ax.plot([confidence[bins == b].mean() for b in filled], [correct[bins == b].mean() for b in filled],
                marker="o", color=color,
                label=f"{label}, ECE {expected_calibration_error(probs, r['labels'], ECE_BINS):.3f}")
    ax.plot([0.5, 1], [0.5, 1], linestyle="--", color="gray", label="perfect calibration")
    ax.set_xlabel("mean confidence in bin (probability)")
    ax.set_ylabel("share correct in bin")
    ax.set_title(name)
    ax.legend(fontsize=7, loc="upper left")
fig.tight_layout()
plt.show()
