"""The demo's revocation drill: a champion withdrawn from a pod under load, timed.

A decision's deployed champion is served by an edge pod (beside its central pod) that obeys a
revocation list of the drill's own (``<state>/drills/revocation/list.jwt``, signed by the
control plane's token-issuing key like the real one), so the drill never withdraws the
champion from the state folder's other pods. Two client threads post held-out records back to
back; at a random instant of the pod's 2 s poll cycle the next list, revoking the champion's
bundle, is published. A fresh pod holds no other bundle, so it turns to central-only routing.
The drill reports the time to revoke (publication → receipt of the last answer given by the
revoked bundle), the requests sent and how many failed (goal 0).
"""

from __future__ import annotations

import random
import shutil
import threading
import time
from contextlib import ExitStack
from typing import Any

import httpx

from commons.revocation_list import publish_next
from commons.settings import Settings
from commons.token_client import BearerAuth
from commons.token_keys import current_key, jwks_path
from edge_insights.demo import held_out_records
from edge_insights.pods import TokenPlane, ensure_token_key, running_pod, running_token_plane

POLL_S = 2.0
CLIENTS = 2


class _Load:
    """``CLIENTS`` threads posting one record at a time to ``url`` with ``auth``; ``answers`` holds
    ``(received, status, bundle_sha256)`` per request (``time.monotonic`` seconds)."""

    def __init__(self, url: str, records: list[dict[str, Any]], auth: httpx.Auth) -> None:
        self.url, self.records, self.auth = url, records, auth
        self.answers: list[tuple[float, int, str | None]] = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, args=(i,), daemon=True) for i in range(CLIENTS)]

    def _run(self, offset: int) -> None:
        with httpx.Client(timeout=30.0, auth=self.auth) as client:
            i = offset
            while not self._stop.is_set():
                try:
                    response = client.post(self.url, json={"records": [self.records[i % len(self.records)]]})
                    status = response.status_code
                    sha = response.json()["decisions"][0]["bundle_sha256"] if status == 200 else None
                except httpx.HTTPError:
                    status, sha = 0, None
                self.answers.append((time.monotonic(), status, sha))
                i += CLIENTS

    def __enter__(self) -> "_Load":
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30)


def run_revocation_drill(settings: Settings, decision: str, *, tokens: TokenPlane | None = None,
                         seed: int = 7) -> dict[str, Any]:
    """Revoke ``decision``'s deployed champion on a pod of the drill's own under load (module docstring).

    ``tokens``: the running token endpoint the pods and the drill's client get tokens from (None:
    one is started for the drill).

    Returns:
        ``{"decision", "revoked_sha256", "time_to_revoke_s", "requests", "failed", "central_only",
        "central_answers", "poll_s"}``.

    Raises:
        PodStartError: a pod did not start; TimeoutError: the pod did not turn central-only
            within a minute.
    """
    drill = settings.state_dir / "drills" / "revocation"
    shutil.rmtree(drill, ignore_errors=True)
    drill.mkdir(parents=True)
    ensure_token_key(settings)
    keys, listed = settings.tokens_dir, drill / "list.jwt"
    key = current_key(keys)
    publish_next(listed, key, jwks_path(keys))  # serial 1, nothing revoked: the pod starts obeying it
    records, _ = held_out_records(settings, decision)
    deploy = settings.deploy_dir / decision
    watch = ["--revocation-list", str(listed), "--revocation-jwks", str(jwks_path(keys)), "--poll-s", str(POLL_S)]
    with ExitStack() as stack:
        plane = tokens or stack.enter_context(running_token_plane(settings))
        auth = BearerAuth(plane.client(f"revocation-drill-{decision}", [decision]), decision)
        logs = drill / "decision_log"
        central_url = stack.enter_context(running_pod(deploy / "central", settings, decision_log_dir=logs,
                                                      tokens=plane))
        edge_url = stack.enter_context(running_pod(deploy / "champion", settings, central_url=central_url,
                                                   decision_log_dir=logs, tokens=plane, extra_args=watch))
        revoked = httpx.get(f"{edge_url}/healthz", timeout=10.0).json()["bundle_sha256"]
        with _Load(f"{edge_url}/v1/decisions/{decision}", records, auth) as load:
            time.sleep(POLL_S + random.Random(seed).uniform(0.0, POLL_S))
            published = time.monotonic()
            publish_next(listed, key, jwks_path(keys), bundles=[{"sha256": revoked, "reason": "demo drill"}])
            deadline = published + 60.0
            while not httpx.get(f"{edge_url}/healthz", timeout=10.0).json()["central_only"]:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"the {decision} pod still serves {revoked[:12]} a minute after its revocation")
                time.sleep(0.05)
            time.sleep(1.0)  # requests that started on the revoked bundle finish on it
    answers = list(load.answers)
    by_revoked = [received for received, _, sha in answers if sha == revoked]
    after = [sha for received, status, sha in answers if received > max(by_revoked, default=published) and status == 200]
    return {"decision": decision, "revoked_sha256": revoked, "poll_s": POLL_S,
            "time_to_revoke_s": round(max(0.0, max(by_revoked, default=published) - published), 2),
            "requests": len(answers), "failed": sum(status != 200 for _, status, _ in answers),
            "central_only": True, "central_answers": len(after)}
