"""The command line's one reader of the environment: :meth:`Settings.from_env`, with a bad value a
usage error (exit 2) rather than a traceback. Every command, in ``cli.py`` and the modules that
add commands to it, gets its settings here."""

from __future__ import annotations

import os
import sys

import typer
from rich.console import Console

from commons.privacy_policy import load_policy
from commons.residency import ResidencyViolation, ensure_central_residency
from commons.settings import Settings, SettingsError, apply_library_opt_outs


def settings_from_env(*, ensure: bool = False, **overrides) -> Settings:
    """The settings from the environment (plus command-line ``overrides``), the state folder's
    region checked against the privacy policy (every command: one that only reads a store still
    serves it from a region the policy may forbid); with ``ensure`` its tree is also created.
    Libraries' telemetry is switched off either way (a pod writes nothing under ``$HOME``).

    Raises:
        typer.Exit: code 2, after one ``error: …`` line, when a value cannot be used.
    """
    apply_library_opt_outs()
    try:
        settings = Settings.from_env(**overrides)
        settings.point_torch_cache()
        if ensure:
            return settings.ensure()
        ensure_central_residency(load_policy(), settings.region)
        return settings
    except (SettingsError, ResidencyViolation, OSError) as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(2) from None


def point_torch_cache_from_env() -> None:
    """Point torch's compiler cache into the environment's state folder before any command imports
    torch (:meth:`Settings.point_torch_cache`); a value that cannot be used is left for the command
    to report (exit 2)."""
    try:
        Settings.from_env().point_torch_cache()
    except SettingsError:
        pass


def stdout_console() -> Console:
    """The console commands print tables on: a terminal's width; into a pipe or file, 150 columns,
    or ``COLUMNS`` where that is wider (widened on purpose; a narrower exported value would wrap
    lines that scripts read whole)."""
    if sys.stdout.isatty():
        return Console()
    wanted = os.environ.get("COLUMNS", "")
    return Console(width=max(150, int(wanted) if wanted.isdigit() else 0))
