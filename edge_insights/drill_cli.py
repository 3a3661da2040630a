"""``edge-insights drift-drill``: a decision's drift drill from the command line, one line per finding.

negative_review drills the deployed champion of the state folder (``make demo`` first);
price_spike trains its own champion on the price history before the shift and retrains it
(:func:`edge_insights.price_drill.price_drill`), so it needs a state folder without price history
from the shift on: ``EDGE_INSIGHTS_STATE_DIR=var/price-drill edge-insights drift-drill --decision price_spike``.
"""

from __future__ import annotations

from typing import Any

import typer

from edge_insights.environment import settings_from_env
from edge_insights.not_deployed import not_deployed

DRILLED = ("negative_review", "price_spike")


def phase_line(phase: str, outcome: dict[str, Any]) -> str:
    """One drill phase: when a retrain was requested and why, or that none was over how many decisions."""
    report = outcome["report"] or {}
    if outcome["request_after"] is not None:
        return f"{phase}: retrain requested after {outcome['request_after']} decisions — " + \
            "; ".join(report.get("reasons", []))
    psi = report.get("psi") or {}
    return (f"{phase}: no retrain over {outcome['decisions']} decisions (shadow disagreement "
            f"{report.get('shadow_rate', 0):.1%} over {report.get('shadow_compared', 0)} vs "
            f"{report.get('baseline_rate', 0):.1%} at release, Fisher p = {report.get('p_value', 1):.2g}"
            + (f"; PSI max {max(psi.values()):.3f}" if psi else "") + ")")


def price_lines(outcome: dict[str, Any]) -> list[str]:
    """The price drill's findings: the champion, each phase, the retrain, held-out before → after."""
    champion = outcome["champion"]
    lines = [(f"price_spike (central oracle: rule), champion trained on {' → '.join(champion['days'])} "
              f"({champion['examples']['examples']} price changes) in {champion['seconds']:.0f} s"),
             *(phase_line(phase, o) for phase, o in outcome["drill"]["phases"].items())]
    retrain = outcome["retrain"]
    if retrain is None:
        return lines
    lines.append(f"retrain with {' → '.join(retrain['days'])} added: {retrain['seconds']:.0f} s, version "
                 f"{retrain['model_version']}, {'promoted' if retrain['promoted'] else 'refused'} "
                 f"({retrain['promotion']})")
    before, after, held = outcome["before"], outcome["after"], outcome["held_out"]
    if after is None:
        return lines
    lines.append(f"held-out shifted records ({held['records']} of {held['products']} products, {held['spikes']} "
                 f"spikes): edge-vs-rule disagreement {before['disagreement']:.1%} → {after['disagreement']:.1%}, "
                 f"on the edge-decided {before['kept_disagreement']:.1%} → {after['kept_disagreement']:.1%}, "
                 f"edge F1 {before['f1_edge']['f1']:.3f} → {after['f1_edge']['f1']:.3f}")
    return lines


def drift_drill_command(decision: str = typer.Option("price_spike", help=f"the decision drilled: {' | '.join(DRILLED)}"),
                        preset: str = typer.Option("tiny", help="training preset of price_spike's champion and retrain"),
                        ) -> None:
    """Replay in-distribution, then shifted, traffic through real pods and report when a retrain is
    requested; for price_spike also retrain on the shifted period and compare on held-out records.
    The outcome is written under <state>/drift_drill/<decision>/.

    Raises:
        typer.BadParameter: an unknown ``--decision`` or ``--preset`` (exit 2, nothing run).
        typer.Exit: code 2 after one ``error:`` line: nothing deployed to drill, or a state folder
            the price drill cannot use.
    """
    if decision not in DRILLED:
        raise typer.BadParameter(f"no drill for {decision!r}; choose one of {', '.join(DRILLED)}",
                                 param_hint="'--decision'")
    from training.config import PRESETS

    # Checked before a code server starts: the drill would otherwise fail only at its training step.
    if preset not in PRESETS:
        raise typer.BadParameter(f"unknown preset {preset!r}; choose one of {', '.join(sorted(PRESETS))}",
                                 param_hint="'--preset'")
    from commons.errors import OrchestrationError
    from edge_insights.drift_drill import drift_drill, review_phases
    from edge_insights.price_drill import price_drill

    settings = settings_from_env(ensure=True, preset=preset)
    if decision == "price_spike":
        try:
            lines = price_lines(price_drill(settings))
        except OrchestrationError as err:
            typer.echo(f"error: {err}", err=True)
            raise typer.Exit(2) from None
    else:
        if not (settings.deploy_dir / decision / "champion" / "manifest.json").is_file():
            typer.echo(f"error: {not_deployed(settings, decision, settings.deploy_dir / decision / 'champion')}",
                       err=True)
            raise typer.Exit(2)
        outcome = drift_drill(settings, decision, review_phases(settings.data_dir))
        lines = [phase_line(phase, o) for phase, o in outcome["phases"].items()]
    for line in lines:
        typer.echo(line)


def register(app: typer.Typer) -> None:
    """Add ``drift-drill`` to the command line."""
    app.command("drift-drill")(drift_drill_command)
