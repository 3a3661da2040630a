"""Model card (markdown) for a registered edge bundle: data, metrics, gate, limits."""

from __future__ import annotations

from typing import Any

from commons.manifest import ORACLE_RULE


def _row(name: str, m: dict[str, Any]) -> str:
    return f"| {name} | {m['precision']:.3f} | {m['recall']:.3f} | {m['f1']:.3f} |"


def _oracle_name(teacher: dict[str, Any]) -> str:
    if teacher.get("oracle") == ORACLE_RULE:
        return "central oracle (the label rule on the contract window)"
    return f"teacher (central, {teacher['layers']} layers)"


def model_card(decision: str, label_rule: str, contract: dict[str, Any], state: dict[str, Any], gate: str) -> str:
    """Render the card from the model store's state (teacher, student, baseline, bundle entries)."""
    bundle, student = state["bundle"], state["student"]
    fields = ", ".join(f"`{k}` ({v['type']}, {v['role']})" for k, v in contract["fields"].items())
    return "\n".join([
        f"# {decision} — edge micro-model",
        "",
        f"**Label rule.** {label_rule}.",
        f"**Inputs (feature contract).** {fields}; anything else is refused by the pod.",
        f"**Training preset.** {state.get('preset')}; evaluation on products never trained on.",
        "",
        "| model | precision | recall | F1 |",
        "| --- | --- | --- | --- |",
        _row(_oracle_name(state["teacher"]), state["teacher"]),
        _row(f"student fp32 ({student['layers']} layers)", student),
        _row(f"student shipped ({bundle['quantization']})", bundle["shipped"]),
        _row("baseline (logistic regression, same inputs)", state["baseline"]),
        "",
        f"**Calibration.** temperature {student['temperature']:.3f}; ECE {student['ece_raw']:.4f} → "
        f"{student['ece']:.4f}; decision bias {student['decision_bias']:+.3f} (folded into the graph).",
        f"**Routing.** abstain below confidence {bundle['abstain']:.4f}: {bundle['edge_coverage']:.1%} of "
        "evaluation cases decided at the edge, the rest by the central oracle.",
        f"**Export.** parity max |Δlogit| {bundle['parity']:.2e}; int8 agreement {bundle['int8_agreement']:.4f}; "
        f"{bundle['model_bytes'] / 2**20:.1f} MB; p50/p99 {bundle['latency_p50_ms']:.2f}/"
        f"{bundle['latency_p99_ms']:.2f} ms (1 thread, batch 1).",
        f"**Gate.** {gate}.",
        f"**Bundle.** sha256 `{bundle['edge_sha256']}` (manifest); its central model: "
        f"`{state.get('central', {}).get('central_sha256', 'not built')}`.",
        "",
        "**Limits.** Trained on the shared public data sets only; scores are calibrated on held-out products "
        "of the same sources and may drift on other shops — watch the divergence report.",
    ]) + "\n"
