"""The command line's one reader of the environment: :meth:`Settings.from_env`, with a bad value a
usage error (exit 2) rather than a traceback. Every command, in ``cli.py`` and the modules that
add commands to it, gets its settings here."""

from __future__ import annotations

import typer

from commons.residency import ResidencyViolation
from commons.settings import Settings, SettingsError


def settings_from_env(*, ensure: bool = False, **overrides) -> Settings:
    """The settings from the environment (plus command-line ``overrides``); with ``ensure`` the state
    folder's region is checked against the privacy policy and its tree created.

    Raises:
        typer.Exit: code 2, after one ``error: …`` line, when a value cannot be used.
    """
    try:
        settings = Settings.from_env(**overrides)
        return settings.ensure() if ensure else settings
    except (SettingsError, ResidencyViolation, OSError) as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(2) from None
