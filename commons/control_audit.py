"""The control plane's audit log: promotions, deployments, revocations, token issuance and key rotations.

One chained log (:mod:`commons.chain_writer`) at ``<state>/audit/control.jsonl``, its checkpoints
signed with the newest audit key under ``<state>/audit/keys`` (``edge-insights audit keygen``;
unsigned, with a warning, while there is none). Each event is followed by a signed checkpoint:
events are few and each one should be provable on its own. A line's record::

    {"ts": UTC ISO 8601, "actor": who acted, "action": "promote" | "promotion_refused" | "deploy" |
     "token_issue" | "key_rotation" | "retention" | "erasure" | "erasure_incomplete" | "revoke" |
     "revocation_refresh",
     "model": registered model name or null, "version": str or null,
     "alias": "champion" | "central" | ... or null, "bundle_sha256": str or null, "details": {...}}

The MLflow registry keeps only where an alias points now; this log answers "which version was
champion, and which bundle was deployed, at time T" (:func:`state_at`).
"""

from __future__ import annotations

import getpass
import logging
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .chain_checkpoint import is_checkpoint
from .chain_writer import ChainWriter, read_lines
from .hash_chain import record_of
from .token_keys import signing_keys

CONTROL_LOG = "control.jsonl"
ACTOR_ENV = "EDGE_INSIGHTS_ACTOR"
ACTIONS = ("promote", "promotion_refused", "deploy", "token_issue", "key_rotation", "retention", "erasure",
           "erasure_incomplete", "revoke", "revocation_refresh")

logger = logging.getLogger(__name__)


def actor() -> str:
    """Who acts: ``EDGE_INSIGHTS_ACTOR`` when set (a CI job, a service), else the OS user."""
    return os.environ.get(ACTOR_ENV) or getpass.getuser()


class ControlAudit:
    """Appender of the control-plane audit log in ``audit_dir`` (``Settings.audit_dir``).

    Args:
        audit_dir: the folder of the log and of the audit keys (``keys/``, ``jwks.json``).

    Raises:
        TokenKeyError: an audit key file cannot be read.
    """

    def __init__(self, audit_dir: Path) -> None:
        self.audit_dir = Path(audit_dir)
        keys = signing_keys(self.audit_dir)
        if not keys:
            logger.warning("no audit key in %s: control audit checkpoints are UNSIGNED "
                           "(run `edge-insights audit keygen`)", self.audit_dir / "keys")
        self._writer = ChainWriter(self.audit_dir, keys[0] if keys else None)

    @property
    def path(self) -> Path:
        return self.audit_dir / CONTROL_LOG

    def record(self, action: str, *, model: str | None = None, version: str | None = None,
               alias: str | None = None, bundle_sha256: str | None = None, now: datetime | None = None,
               **details: Any) -> dict[str, Any]:
        """Append one event (then a signed checkpoint) and return its record.

        Raises:
            ValueError: ``action`` is not one of :data:`ACTIONS`, or a detail is not JSON.
            OSError: the log cannot be written.
        """
        if action not in ACTIONS:
            raise ValueError(f"action must be one of {', '.join(ACTIONS)}, got {action!r}")
        entry = {"ts": (now or datetime.now(timezone.utc)).isoformat(timespec="milliseconds"), "actor": actor(),
                 "action": action, "model": model, "version": None if version is None else str(version),
                 "alias": alias, "bundle_sha256": bundle_sha256, "details": details}
        self._writer.append([entry], CONTROL_LOG)
        self._writer.checkpoint("event")
        return entry


def read_events(path: Path) -> list[dict[str, Any]]:
    """The event records of a control audit log, in order (checkpoints and chain members dropped;
    check the log with :func:`commons.chain_verify.verify_folder` first when it matters). A torn
    line a crash left is skipped with a warning (:func:`commons.chain_writer.read_lines`): it is
    no event, so a torn retention or erasure gives no expiry anchor.

    Raises:
        OSError: the log exists but cannot be read.
    """
    if not Path(path).is_file():
        return []
    return [record_of(line) for line in read_lines(path) if not is_checkpoint(line)]


def state_at(events: list[dict[str, Any]], model: str, when: datetime) -> dict[str, Any]:
    """What the log says about ``model`` at ``when`` (UTC): ``{"champion": the last promote event
    at or before it or None, "deployed": {alias or slot: the last deploy event}}``."""
    cutoff = when.astimezone(timezone.utc).isoformat(timespec="milliseconds")
    champion, deployed = None, {}
    for event in events:
        if event.get("model") != model or event["ts"] > cutoff:
            continue
        if event["action"] == "promote":
            champion = event
        elif event["action"] == "deploy":
            deployed[event.get("alias")] = event
    return {"champion": champion, "deployed": deployed}
