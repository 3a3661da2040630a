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
# # The edge in production
#
# From the pods' decision logs (`<state>/decision_log/`, and the drift drill's logs under
# `<state>/drift_drill/<decision>/<phase>/edge/`): how decisions were routed, how often edge and central
# disagreed on the uniform shadow sample over time against the bundle's release baseline, the drift
# statistics the sensor tests (one-sided Fisher exact test, α = 0.01; PSI of the input profile,
# threshold 0.25) and where a retrain would have been requested, and the latency the pods measured.
# The state folder comes from `EDGE_INSIGHTS_STATE_DIR`.

# %%
import json
import os
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from training.decisions import DECISIONS
from training.divergence import is_production, read_decisions, reason_counts
from training.drift import ALPHA, PSI_THRESHOLD

STATE = Path(os.environ["EDGE_INSIGHTS_STATE_DIR"])
ROUTES = ("edge", "central", "fallback")


def logs() -> dict[str, list[dict]]:
    """Decision-log lines per source: ``<decision>`` (served production traffic), ``<decision> · replay``
    (the evaluation split the demo replayed, ``traffic: replay``) and ``<decision> · drill <phase>``."""
    found = {}
    for name in DECISIONS:
        rows = read_decisions(STATE / "decision_log", name)
        production = [r for r in rows if is_production(r)]
        replayed = [r for r in rows if not is_production(r)]
        if production:
            found[name] = production
        if replayed:
            found[f"{name} · replay"] = replayed
        for phase_dir in sorted((STATE / "drift_drill" / name).glob("*/edge")):
            rows = read_decisions(phase_dir, name)
            if rows:
                found[f"{name} · drill {phase_dir.parent.name}"] = rows
    return found


sources = logs()
for source, rows in sources.items():
    print(f"{source:<45}{len(rows):>6} decisions, {sum(1 for r in rows if r['shadow']):>5} shadow-sampled")

# %% [markdown]
# ## Routes
#
# `edge`: decided by the student; `central`: answered by the central oracle; `fallback`: central
# unreachable or its answer refused, edge answer kept. Below the chart, each route by the reason the
# log gives (`route_reason`): `confident`, `no_central` (edge unsure or out of range, no central to
# ask), `abstain` (edge confidence below the abstain threshold), `out_of_range` (a numeric input
# outside the bundle's trained range), `central_only` (bundle revoked), `central_error`; `unrecorded`
# for lines logged before the field.

# %%
fig, ax = plt.subplots(figsize=(10, 0.6 * len(sources) + 1.5))
left = np.zeros(len(sources))
for route, color in zip(ROUTES, ("tab:blue", "tab:purple", "tab:red")):
    counts = np.array([sum(1 for r in rows if r["route"] == route) for rows in sources.values()])
    ax.barh(list(sources), counts, left=left, color=color, label=route)
    left += counts
ax.set_xlabel("decisions (count)")
ax.invert_yaxis()
ax.legend(fontsize=8)
ax.set_title("Routes per decision log")
fig.tight_layout()
plt.show()
for source, rows in sources.items():
    reasons = reason_counts(rows)
    print(f"{source:<45}" + "; ".join(f"{route}: " + ", ".join(f"{reason} {n}" for reason, n in by_reason.items())
                                      for route, by_reason in reasons.items()))

# %% [markdown]
# ## Shadow disagreement over time
#
# Cumulative edge-vs-central disagreement rate on the shadow sample only, by decisions logged; the
# dashed line is the rate the same bundle showed on its eval split at release (manifest
# `drift_baseline`, same population: examples the edge keeps).

# %%
baselines = {}
for name in DECISIONS:
    manifest = STATE / "deploy" / name / "champion" / "manifest.json"
    if manifest.is_file():
        baselines[name] = json.loads(manifest.read_text()).get("drift_baseline")
fig, ax = plt.subplots(figsize=(10, 4))
for source, rows in sources.items():
    shadow = [(i, r["edge_label"] != r["central_label"]) for i, r in enumerate(rows)
              if r["shadow"] and r["central_label"] is not None]
    if shadow:
        index, differ = zip(*shadow)
        ax.plot(np.array(index) + 1, np.cumsum(differ) / np.arange(1, len(differ) + 1), label=source)
logged = {source.split(" · ")[0] for source in sources}
for color, (name, baseline) in zip(("black", "tab:gray", "tab:brown"), baselines.items()):
    if baseline and name in logged:
        ax.axhline(baseline["disagreement"], linestyle="--", linewidth=1, color=color,
                   label=f"{name} release baseline ({baseline['disagreements']}/{baseline['n']})")
ax.set_xlabel("decisions logged (count)")
ax.set_ylabel("shadow disagreement rate (cumulative)")
ax.set_ylim(bottom=0)
ax.legend(fontsize=7)
fig.tight_layout()
plt.show()

# %% [markdown]
# ## Drift statistics and retrain triggers (drift drill)
#
# After every batch the drill assessed its log as the sensor would. Left: the Fisher test's p-value
# (log scale) against α; right: the largest PSI over the input-profile features against 0.25. A red
# line marks the decision count at which a retrain was requested.

# %%
drills = {p.parent.name: json.loads(p.read_text()) for p in sorted((STATE / "drift_drill").glob("*/drill.json"))}
for name, drill in drills.items():
    fig, (left_ax, right_ax) = plt.subplots(1, 2, figsize=(11, 3.6))
    for phase, outcome in drill["phases"].items():
        checks = outcome["checks"]
        n = [c["decisions"] for c in checks]
        left_ax.plot(n, [c["p_value"] for c in checks], marker=".", label=phase)
        right_ax.plot(n, [max(c["psi"].values()) if c["psi"] else np.nan for c in checks], marker=".", label=phase)
        if outcome["request_after"] is not None:
            for ax in (left_ax, right_ax):
                ax.axvline(outcome["request_after"], color="tab:red", linewidth=1)
        requested = (f"retrain requested after {outcome['request_after']}" if outcome["request_after"] is not None
                     else "no retrain requested")
        print(f"{name} · {phase}: {outcome['decisions']} decisions, {requested}; "
              f"last reasons: {outcome['report']['reasons']}")
    left_ax.axhline(ALPHA, color="gray", linestyle="--", label=f"α = {ALPHA}")
    left_ax.set_yscale("log")
    left_ax.set_xlabel("decisions logged (count)")
    left_ax.set_ylabel("one-sided Fisher p-value")
    right_ax.axhline(PSI_THRESHOLD, color="gray", linestyle="--", label=f"PSI {PSI_THRESHOLD}")
    right_ax.set_xlabel("decisions logged (count)")
    right_ax.set_ylabel("largest input PSI (dimensionless)")
    for ax in (left_ax, right_ax):
        ax.legend(fontsize=8)
    fig.suptitle(f"{name}: drift drill")
    fig.tight_layout()
    plt.show()

# %% [markdown]
# ## Latency
#
# `latency_ms` as the pod logged it: from the start of a batch's tokenisation until the record's answer
# was settled (central and fallback answers include the round trip to central).

# %%
fig, axes = plt.subplots(1, len(sources), figsize=(3.8 * len(sources), 3.4), squeeze=False)
for ax, (source, rows) in zip(axes[0], sources.items()):
    for route, color in zip(ROUTES, ("tab:blue", "tab:purple", "tab:red")):
        values = [r["latency_ms"] for r in rows if r["route"] == route]
        if values:
            ax.hist(values, bins=30, alpha=0.7, color=color, label=f"{route} (p50 {np.median(values):.1f} ms)")
    ax.set_xlabel("latency (ms)")
    ax.set_ylabel("decisions (count)")
    ax.set_title(source, fontsize=8)
    ax.legend(fontsize=7)
fig.tight_layout()
plt.show()
