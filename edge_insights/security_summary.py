"""The demo's security summary: tokens issued, requests refused by reason, the audit logs verified.

- **Probes.** :func:`probe_pod` sends one real record to a running pod with each kind of bad
  credential (:data:`PROBES`: none, an ``alg: none`` token, one signed by a key the pod does not
  know, an expired one, one for another audience, one without the ``decide`` scope) and returns the
  status each got; a pod with auth on answers 401 or 403 to every one and decides none.
- **Refusals.** :func:`refusals` reads ``rejected_requests_total{reason}`` off a pod's ``/metrics``
  (with a ``metrics``-scoped token) before the pod stops.
- **Tokens issued.** :func:`tokens_issued` counts the control audit log's ``token_issue`` events
  since the demo began, by subject (each client's own token: the pods, the watcher, the demo).
- **Audit.** :func:`verify_state` runs ``edge-insights audit verify`` on the state folder, as a
  user would, and keeps its exit status and lines.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from prometheus_client.parser import text_string_to_metric_families

from commons.control_audit import CONTROL_LOG, read_events
from commons.settings import Settings
from commons.token_keys import SigningKey, current_key, thumbprint
from commons.tokens import issue_token

PROBES = ("no_token", "alg_none", "unknown_key", "expired", "other_audience", "wrong_scope")
"""The bad credentials :func:`probe_pod` tries, in order."""


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _probe_headers(decision: str, tokens_dir: Path) -> dict[str, dict[str, str]]:
    key = current_key(tokens_dir)
    stranger = Ed25519PrivateKey.generate()
    unknown = SigningKey(thumbprint(stranger.public_key()), stranger, tokens_dir / "unknown.pem")
    other = "price_spike" if decision != "price_spike" else "negative_review"
    now = int(time.time())
    claims = {"iss": "edge-insights", "aud": decision, "sub": "probe", "scope": "decide", "iat": now,
              "nbf": now, "exp": now + 60, "jti": "probe"}
    tokens = {
        "alg_none": f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}.",
        "unknown_key": issue_token(unknown, audience=decision, subject="probe", scopes=["decide"], ttl_s=60),
        "expired": issue_token(key, audience=decision, subject="probe", scopes=["decide"], ttl_s=60, now=now - 3600),
        "other_audience": issue_token(key, audience=other, subject="probe", scopes=["decide"], ttl_s=60),
        "wrong_scope": issue_token(key, audience=decision, subject="probe", scopes=["metrics"], ttl_s=60),
    }
    return {"no_token": {}, **{name: {"Authorization": f"Bearer {token}"} for name, token in tokens.items()}}


def probe_pod(url: str, decision: str, record: dict[str, Any], tokens_dir: Path) -> dict[str, int]:
    """The HTTP status a pod answers one valid record sent with each of :data:`PROBES`.

    Args:
        url: the pod's base URL.
        decision: the decision it serves.
        record: a record its contract accepts (so only the credential can be refused).
        tokens_dir: the token signing keys (``Settings.tokens_dir``); the probes are signed with
            the current key where a genuine signature is the point (expired, other audience, scope).
    """
    headers = _probe_headers(decision, tokens_dir)
    with httpx.Client(base_url=url, timeout=10.0) as client:
        return {name: client.post(f"/v1/decisions/{decision}", json={"records": [record]},
                                  headers=headers[name]).status_code for name in PROBES}


def refusals(url: str, auth: httpx.Auth) -> dict[str, int]:
    """``rejected_requests_total`` of a pod by reason, read off its ``/metrics`` with ``auth``.

    Raises:
        httpx.HTTPStatusError: the pod refused the scrape.
    """
    reply = httpx.get(f"{url}/metrics", auth=auth, timeout=10.0)
    reply.raise_for_status()
    return {s.labels["reason"]: int(s.value) for family in text_string_to_metric_families(reply.text)
            for s in family.samples if s.name == "rejected_requests_total"}


def tokens_issued(audit_dir: Path, since: str) -> dict[str, int]:
    """Tokens the control plane issued at or after ``since`` (UTC ISO 8601), by subject."""
    events = read_events(Path(audit_dir) / CONTROL_LOG)
    return dict(Counter(e["details"]["sub"] for e in events if e["action"] == "token_issue" and e["ts"] >= since))


def verify_state(settings: Settings) -> dict[str, Any]:
    """``edge-insights audit verify <state>``: ``{"exit": 0 intact | 1 tampered | 2 nothing to check,
    "lines": its output lines}``."""
    done = subprocess.run([sys.executable, "-m", "edge_insights", "audit", "verify", str(settings.state_dir)],
                          capture_output=True, text=True, env={**os.environ, **settings.environment()}, timeout=600)
    return {"exit": done.returncode, "lines": (done.stdout + done.stderr).strip().splitlines()}


def security_summary(settings: Settings, since: str, served: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The demo's security summary: tokens issued since ``since`` by subject, the probes and what the
    pods refused (from each served decision's ``security`` entry), and the audit verification."""
    refused: Counter[str] = Counter()
    probes = {}
    for name, outcome in served.items():
        security = outcome.get("security") or {}
        for counts in security.get("refused", {}).values():
            refused.update(counts)
        probes[name] = security.get("probes", {})
    tried = [status for statuses in probes.values() for status in statuses.values()]
    return {"tokens_issued": tokens_issued(settings.audit_dir, since),
            "probes": probes, "probes_tried": len(tried), "probes_refused": sum(s in (401, 403) for s in tried),
            "refused_by_reason": dict(refused), "audit_verify": verify_state(settings)}
