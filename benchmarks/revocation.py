"""Time to revoke, and a live swap under steady load, on a real pod.

One edge pod (``edge-insights serve``, ``--poll-s 2``: the default) serves a 1-layer MiniLM test
bundle (``tests/bundle_factory.py``) under steady load: ``--workers`` threads posting one-record
decisions back to back. Then:

- **Time to revoke**, ``--trials`` times: a new variant of the bundle (the same files, a manifest
  key changed, so another sha256) is deployed and served live; the next revocation list,
  withdrawing it, is published to the file the pod polls at a random point of its poll cycle
  (a pause drawn uniformly from 0 to ``--poll-s`` after the variant is served); the time to revoke is from the
  publication to the *receipt* of the last answer given by the revoked bundle (the pod falls back
  to the bundle it started with). 20 trials, p50/p99/max; goal p99 ≤ 3 s at 2 s polling.
  With ``--withdraw key`` each variant is signed by a release key of its own (a new PEM key the
  pod trusts) and the list withdraws that key instead of the bundle's sha256.
- **Live swap**: requests/s and p99 latency over 4 s before a deployment, while it is taken in
  (deploy → the first answer by the new bundle, plus 1 s), and over 4 s after; failed requests
  (any answer but 200, or no answer) over the whole benchmark; goal 0.

Run: ``.venv/bin/python benchmarks/revocation.py [--trials 20] [--workers 4] [--withdraw bundle|key]``
from the repository root (about 2 minutes). Writes ``<state>/benchmarks/revocation.json``
(``revocation-key.json`` with ``--withdraw key``) and prints the table. The pod trusts a folder of
its own (the session's release key, and in key mode the trial keys), so no trial key is ever
trusted by the state folder's pods.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from commons.bundle_signature import SIGNATURE_NAME  # noqa: E402
from commons.manifest import MANIFEST_NAME, load_manifest, write_manifest  # noqa: E402
from commons.net import free_port  # noqa: E402
from commons.revocation_list import default_list_path, publish_next  # noqa: E402
from commons.settings import RELEASE_TRUST_ENV, Settings  # noqa: E402
from commons.token_keys import current_key, jwks_path, rotate_keys  # noqa: E402

RELEASE_FILE = "release.json"


@dataclass(frozen=True)
class Answer:
    """One request under load: sent and received (``time.monotonic`` s), HTTP status (0: no
    answer), the answering bundle's sha256 (None unless 200)."""

    sent: float
    received: float
    status: int
    bundle_sha256: str | None


class SteadyLoad:
    """``workers`` threads posting ``body`` to ``url`` back to back, each over its own connection,
    until :meth:`stop`; ``answers`` holds every request made, in completion order."""

    def __init__(self, url: str, body: dict, workers: int = 4) -> None:
        self.url, self.body = url, body
        self.answers: list[Answer] = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._work, daemon=True) for _ in range(workers)]

    def __enter__(self) -> "SteadyLoad":
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def stop(self) -> None:
        """Stop posting and wait for the requests in flight."""
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30.0)

    def _work(self) -> None:
        with httpx.Client(timeout=10.0) as client:
            while not self._stop.is_set():
                sent = time.monotonic()
                try:
                    reply = client.post(self.url, json=self.body)
                    status = reply.status_code
                    sha = reply.json()["decisions"][0]["bundle_sha256"] if status == 200 else None
                except httpx.HTTPError:
                    status, sha = 0, None
                self.answers.append(Answer(sent, time.monotonic(), status, sha))

    def failed(self) -> list[Answer]:
        """Requests not answered 200."""
        return [a for a in self.answers if a.status != 200]


def variant(bundle_dir: Path, folder: Path, marker: str, signer, **manifest: Any) -> str:
    """A copy of ``bundle_dir`` (release file included) whose manifest carries ``variant: marker``
    (and ``manifest``'s keys in place of its own), resealed and signed again by ``signer`` (an
    :class:`edge_export.signer.ReleaseSigner`): the same model under another sha256, which it
    returns. Files are hard-linked, but the manifest and the signature, which are written anew."""
    folder.mkdir(parents=True)
    for item in bundle_dir.iterdir():
        if item.name not in (MANIFEST_NAME, SIGNATURE_NAME):
            (folder / item.name).hardlink_to(item)
    kept = {k: v for k, v in load_manifest(bundle_dir).items() if k not in ("bundle_sha256", "files", "schema_version")}
    # release.json is not a bundle file: moved aside while the manifest is sealed, as the pipeline does.
    release = (folder / RELEASE_FILE).read_bytes()
    (folder / RELEASE_FILE).unlink()
    sealed = write_manifest(folder, {**kept, "variant": marker, **manifest})
    (folder / RELEASE_FILE).write_bytes(release)
    signer.sign(folder)
    return sealed["bundle_sha256"]


def deploy(source: Path, deploy_dir: Path) -> None:
    """Put ``source`` at ``deploy_dir`` as :func:`training.registry.deploy` does: a staging copy,
    the old folder removed, the copy renamed into place."""
    staging = deploy_dir.with_name(f".{deploy_dir.name}.staging")
    shutil.copytree(source, staging, copy_function=lambda src, dst: Path(dst).hardlink_to(src))
    if deploy_dir.exists():
        shutil.rmtree(deploy_dir)
    staging.rename(deploy_dir)


def revoke(state_dir: Path, sha: str, kid: str | None = None) -> float:
    """Publish the next list withdrawing ``sha``, or the release key ``kid`` when given; returns the
    ``time.monotonic`` of publication."""
    tokens = state_dir / "tokens"
    entry = {"kids": [{"kid": kid, "reason": "benchmark"}]} if kid else {"bundles": [{"sha256": sha,
                                                                                     "reason": "benchmark"}]}
    publish_next(default_list_path(state_dir), current_key(tokens), jwks_path(tokens), **entry)
    return time.monotonic()


def trial_signer(work: Path, trust: Path, trial: int):
    """A new release key of its own for one trial, trusted in ``trust`` (the pod's folder only)."""
    from edge_export.signer import generate_pem_key, open_signer

    signer = open_signer(str(generate_pem_key(work / "keys" / f"trial-{trial}.pem")))
    signer.trust(trust)
    return signer


def wait_served(load: SteadyLoad, sha: str, since: float, timeout_s: float = 15.0) -> float:
    """The receipt time of the first answer by ``sha`` sent after ``since``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        first = next((a.received for a in list(load.answers) if a.sent >= since and a.bundle_sha256 == sha), None)
        if first is not None:
            return first
        time.sleep(0.02)
    raise TimeoutError(f"bundle {sha[:12]} not served within {timeout_s} s")


def window(answers: list[Answer], start: float, end: float) -> dict:
    """Requests/s, p50 and p99 latency (ms) of the answers received in [start, end)."""
    inside = [a for a in answers if start <= a.received < end]
    latency = np.array([(a.received - a.sent) * 1000.0 for a in inside]) if inside else np.zeros(1)
    return {"requests": len(inside), "requests_per_s": round(len(inside) / (end - start), 1),
            "p50_ms": round(float(np.percentile(latency, 50)), 2), "p99_ms": round(float(np.percentile(latency, 99)), 2),
            "failed": sum(a.status != 200 for a in inside)}


def time_to_revoke(load: SteadyLoad, state_dir: Path, bundle_dir: Path, deploy_dir: Path, work: Path,
                   trials: int, poll_s: float, signer, trust: Path | None = None) -> list[float]:
    """Seconds from each publication to the last answer by the revoked variant (the pod falls back
    to the newest bundle it holds that is not revoked: the one it served before the variant). With
    ``trust`` (key mode) each variant is signed by a trial key trusted there, and that key is revoked."""
    jitter = random.Random(12)
    seconds = []
    for trial in range(trials):
        key = trial_signer(work, trust, trial) if trust else None
        sha = variant(bundle_dir, work / f"variant-{trial}", f"trial-{trial}", key or signer)
        fallback = load.answers[-1].bundle_sha256
        deployed = time.monotonic()
        deploy(work / f"variant-{trial}", deploy_dir)
        wait_served(load, sha, deployed)
        # The swap just followed a poll: a random pause puts the publication anywhere in the cycle.
        time.sleep(jitter.uniform(0.0, poll_s))
        published = revoke(state_dir, sha, key.key_id if key else None)
        wait_served(load, fallback, published)
        time.sleep(0.5)  # requests that started on the revoked bundle before the swap finish on it
        last = max(a.received for a in list(load.answers) if a.bundle_sha256 == sha)
        seconds.append(max(0.0, last - published))
        print(f"  trial {trial + 1}/{trials}: {seconds[-1]:.2f} s", flush=True)
    return seconds


def live_swap(load: SteadyLoad, bundle_dir: Path, deploy_dir: Path, work: Path, signer) -> dict:
    """Load windows before, during and after one live swap."""
    sha = variant(bundle_dir, work / "swap", "swap", signer)
    time.sleep(4.0)
    deployed = time.monotonic()
    deploy(work / "swap", deploy_dir)
    served = wait_served(load, sha, deployed)
    time.sleep(5.0)
    answers = list(load.answers)
    return {"before": window(answers, deployed - 4.0, deployed), "during": window(answers, deployed, served + 1.0),
            "after": window(answers, served + 1.0, served + 5.0), "swap_s": round(served - deployed, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--poll-s", type=float, default=2.0)
    parser.add_argument("--withdraw", choices=("bundle", "key"), default="bundle",
                        help="what each list withdraws: the variant's sha256, or the release key that signed it")
    args = parser.parse_args()
    settings = Settings.from_env().ensure()
    work = settings.state_dir / "benchmarks" / "revocation"
    if work.exists():
        shutil.rmtree(work)
    sys.path.insert(0, str(REPO / "tests"))
    from bundle_factory import build_bundle  # torch loads only here, for the test bundle
    from release_keys import session_signer

    from edge_insights.pods import PodStartError, answers_healthz, running_process

    built = build_bundle(work / "bundle", layers=1, seed=11, model_version="1")
    trust = work / "trusted"
    session_signer().trust(trust)
    state_dir = work / "state"
    rotate_keys(state_dir / "tokens")
    deploy_dir = work / "deploy" / "champion"
    deploy(built.path, deploy_dir)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "edge_insights", "serve", "--deploy-dir", str(deploy_dir), "--port", str(port),
               "--decision-log-dir", str(work / "decision_log"), "--poll-s", str(args.poll_s),
               "--revocation-list", str(default_list_path(state_dir)),
               "--revocation-jwks", str(jwks_path(state_dir / "tokens"))]
    body = {"records": [{"review_text": built.sentences[0]}]}
    env = {**os.environ, RELEASE_TRUST_ENV: str(trust)}
    with running_process(command, work / "pod.log", answers_healthz(url), timeout_s=60.0, name="pod",
                         error=PodStartError, env=env):
        with SteadyLoad(f"{url}/v1/decisions/negative_review", body, args.workers) as load:
            signer = session_signer()  # the key build_bundle signed with, trusted by the pod
            swap = live_swap(load, built.path, deploy_dir, work, signer)
            print(f"live swap: {json.dumps(swap)}", flush=True)
            seconds = time_to_revoke(load, state_dir, built.path, deploy_dir, work, args.trials, args.poll_s,
                                     signer, trust if args.withdraw == "key" else None)
        failed = len(load.failed())
        total = len(load.answers)
    result = {"poll_s": args.poll_s, "workers": args.workers, "trials": args.trials, "withdraw": args.withdraw,
              "time_to_revoke_s": {"p50": round(float(np.percentile(seconds, 50)), 2),
                                   "p99": round(float(np.percentile(seconds, 99)), 2),
                                   "max": round(max(seconds), 2), "all": [round(s, 3) for s in seconds]},
              "live_swap": swap, "requests": total, "failed_requests": failed}
    name = "revocation.json" if args.withdraw == "bundle" else "revocation-key.json"
    out = settings.state_dir / "benchmarks" / name
    out.write_text(json.dumps(result, indent=2) + "\n")
    ttr = result["time_to_revoke_s"]
    print(f"\ntime to revoke a {args.withdraw} ({args.trials} trials, {args.poll_s:g} s polling): p50 {ttr['p50']} s, "
          f"p99 {ttr['p99']} s, max {ttr['max']} s")
    print("live swap   requests/s   p50 ms   p99 ms   failed")
    for phase in ("before", "during", "after"):
        w = swap[phase]
        print(f"{phase:<10}  {w['requests_per_s']:>10}  {w['p50_ms']:>7}  {w['p99_ms']:>7}  {w['failed']:>6}")
    print(f"failed requests over the whole run: {failed} of {total}\nwrote {out}")


if __name__ == "__main__":
    main()
