"""Real pods: ``edge-insights serve`` subprocesses on loopback, talking HTTP to each other."""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import httpx
import pytest

from commons.net import free_port
from prometheus_client.parser import text_string_to_metric_families

from commons.manifest import MANIFEST_NAME, write_manifest
from release_keys import session_signer, signed, trust_dir
from serving.router import shadow_selected

pytestmark = pytest.mark.slow  # builds models, reads whole data sets or starts processes

REPO = Path(__file__).resolve().parents[2]
URL = "/v1/decisions/negative_review"
READY_TIMEOUT_S = 30.0


def pod_command(deploy_dir: Path, port: int, log_dir: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "edge_insights", "serve", "--deploy-dir", str(deploy_dir), "--port", str(port),
            "--decision-log-dir", str(log_dir), *extra]


@dataclass(frozen=True)
class Pod:
    url: str
    log_dir: Path
    proc: subprocess.Popen


@contextlib.contextmanager
def running_pod(deploy_dir: Path, workdir: Path, *extra: str) -> Iterator[Pod]:
    """Start a pod, wait until /healthz answers, yield it; always stop it."""
    port = free_port()
    log_dir = workdir / "decision_log"
    workdir.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "EDGE_INSIGHTS_STATE_DIR": str(workdir / "state")}
    with open(workdir / "pod.err", "w") as stderr:
        proc = subprocess.Popen(pod_command(deploy_dir, port, log_dir, *extra), cwd=REPO, env=env,
                                stdout=subprocess.DEVNULL, stderr=stderr)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while True:
            if proc.poll() is not None:
                pytest.fail(f"pod exited with {proc.returncode}: {(workdir / 'pod.err').read_text()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{base}/healthz", timeout=1.0).status_code == 200:
                    break
            if time.monotonic() > deadline:
                pytest.fail(f"pod not ready after {READY_TIMEOUT_S} s")
            time.sleep(0.1)
        yield Pod(base, log_dir, proc)
    finally:
        stop(proc)


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def digest_of(text: str) -> str:
    return hashlib.sha256(json.dumps({"review_text": text}, sort_keys=True, separators=(",", ":"),
                                     ensure_ascii=False).encode("utf-8")).hexdigest()


def read_log(log_dir: Path, expected: int, timeout_s: float = 10.0,
             decision: str = "negative_review") -> list[dict]:
    """Decision log lines (checkpoints left out), waiting (bounded) for shadow lines written after
    the response."""
    deadline = time.monotonic() + timeout_s
    while True:
        lines = [row for path in sorted((log_dir / decision).glob("*.jsonl"))
                 for row in map(json.loads, path.read_text(encoding="utf-8").splitlines())
                 if "checkpoint" not in row]
        if len(lines) >= expected or time.monotonic() > deadline:
            return lines
        time.sleep(0.05)


def samples(metrics_text: str, name: str) -> dict[tuple, float]:
    return {tuple(sorted(s.labels.items())): s.value
            for family in text_string_to_metric_families(metrics_text)
            for s in family.samples if s.name == name}


def resealed(bundle, folder: Path, **changes):
    """A copy of a built test bundle in ``folder`` with manifest keys changed and resealed.

    ``release.json`` is copied after sealing, as the pipeline deploys it (it is not a bundle file);
    the copy is signed again, as the release step signs what it ships.
    """
    shutil.copytree(bundle.path, folder, ignore=shutil.ignore_patterns("release.json", MANIFEST_NAME))
    kept = {k: v for k, v in bundle.manifest.items() if k not in ("bundle_sha256", "files", "schema_version")}
    manifest = write_manifest(folder, {**kept, **changes})
    signed(folder)
    shutil.copy(bundle.path / "release.json", folder / "release.json")
    return dataclasses.replace(bundle, path=folder, manifest=manifest)


def as_central(bundle, folder: Path):
    """The bundle deployed as the pipeline deploys a teacher: manifest ``role`` ``central``."""
    return resealed(bundle, folder, role="central")


@pytest.fixture(scope="module")
def central_deploy(central_bundle, tmp_path_factory):
    """The 2-layer test bundle deployed with role ``central``."""
    return as_central(central_bundle, tmp_path_factory.mktemp("central_deploy") / "central")


@pytest.fixture(scope="module")
def pods(edge_bundle, central_deploy, tmp_path_factory):
    """A central pod (2-layer bundle) and an edge pod (1-layer) consulting it, shadow rate 0.5,
    body limit 64 KiB."""
    central_dir, edge_dir = tmp_path_factory.mktemp("central"), tmp_path_factory.mktemp("edge")
    with running_pod(central_deploy.path, central_dir) as central:
        with running_pod(edge_bundle.path, edge_dir, "--central-url", central.url,
                         "--shadow-rate", "0.5", "--max-body-bytes", "65536") as edge:
            yield {"edge": edge.url, "edge_log": edge.log_dir, "central": central.url,
                   "central_log": central.log_dir, "edge_stderr": edge_dir / "pod.err"}


@pytest.fixture(scope="module")
def answered(pods, edge_bundle):
    """The edge pod's answer to the reference review sentences, each with a product id."""
    records = [{"review_text": s, "product_id": f"sku-{i}"} for i, s in enumerate(edge_bundle.sentences)]
    response = httpx.post(pods["edge"] + URL, json={"records": records}, timeout=10.0)
    assert response.status_code == 200, response.text
    return response.json()["decisions"]


def test_a_started_pod_says_where_it_listens(pods, edge_bundle):
    said = pods["edge_stderr"].read_text().splitlines()
    assert f"pod {edge_bundle.path.parent.name}/{edge_bundle.path.name} listening on {pods['edge']}" in said


def test_healthz_names_the_deployed_release(pods, edge_bundle, central_deploy):
    for url, bundle, role in ((pods["edge"], edge_bundle, "edge"), (pods["central"], central_deploy, "central")):
        assert httpx.get(url + "/healthz").json() == {
            "status": "ok", "decision": "negative_review",
            "model_version": bundle.release["model_version"],
            "bundle_sha256": bundle.manifest["bundle_sha256"], "alias": "champion",
            "signed_by": session_signer().key_id, "role": role,
            "oracle": "model", "central_only": False, "revocation_serial": None}


def test_unsure_records_go_to_central_and_the_rest_stay_at_the_edge(answered, edge_bundle, central_deploy):
    abstain = edge_bundle.manifest["thresholds"]["abstain"]
    expected_routes = ["central" if c < abstain else "edge" for c in edge_bundle.confidences]
    assert {"central", "edge"} <= set(expected_routes)
    assert [d["route"] for d in answered] == expected_routes
    for decision, sentence, confidence in zip(answered, edge_bundle.sentences, edge_bundle.confidences):
        assert set(decision) == {"decision", "label", "score", "route", "model_version",
                                 "bundle_sha256", "signal_digest", "latency_ms"}
        assert decision["decision"] == "negative_review"
        assert decision["label"] in ("not_negative", "negative")
        assert decision["signal_digest"] == digest_of(sentence)
        assert decision["latency_ms"] > 0
        answering = central_deploy if decision["route"] == "central" else edge_bundle
        assert decision["model_version"] == answering.release["model_version"]
        assert decision["bundle_sha256"] == answering.manifest["bundle_sha256"]
        if decision["route"] == "edge":
            assert decision["score"] == pytest.approx(float(confidence), abs=1e-5)
        else:
            assert 0.5 <= decision["score"] <= 1.0


def test_every_decision_is_logged_with_its_digest_and_no_text(answered, pods, edge_bundle):
    lines = read_log(pods["edge_log"], expected=len(answered))
    by_product = {line["product_id"]: line for line in lines}
    assert len(lines) == len(answered) and len(by_product) == len(answered)
    raw = "".join(p.read_text() for p in (pods["edge_log"] / "negative_review").glob("*.jsonl"))
    assert not any(sentence in raw for sentence in edge_bundle.sentences)
    for i, decision in enumerate(answered):
        line = by_product[f"sku-{i}"]
        for key in ("label", "score", "route", "model_version", "bundle_sha256", "signal_digest"):
            assert line[key] == decision[key]
        assert line["edge_bundle_sha256"] == edge_bundle.manifest["bundle_sha256"]
        assert line["edge_score"] == pytest.approx(float(edge_bundle.confidences[i]), abs=1e-5)
        assert line["ts"].endswith("+00:00")
        if decision["route"] == "central":
            assert (line["central_label"], line["central_score"]) == (decision["label"], decision["score"])
            assert line["shadow"] is False
        else:
            # Shadow membership is a function of the digest alone: reproducible on replay.
            assert line["shadow"] is shadow_selected(decision["signal_digest"], 0.5)
            assert (line["central_label"] is not None) is line["shadow"]
    assert any(line["shadow"] for line in lines), "rate 0.5 over these digests samples some"


def test_central_logs_what_it_was_asked(answered, pods):
    consulted = {d["signal_digest"] for d in answered if d["route"] == "central"}
    shadowed = [line for line in read_log(pods["edge_log"], len(answered)) if line["shadow"]]
    consulted |= {line["signal_digest"] for line in shadowed}
    central_lines = read_log(pods["central_log"], expected=len(consulted))
    assert {line["signal_digest"] for line in central_lines} == consulted
    assert {line["route"] for line in central_lines} == {"edge"}  # central has no one to ask


def test_metrics_count_decisions_by_route_and_label(answered, pods):
    text = httpx.get(pods["edge"] + "/metrics").text
    counted = samples(text, "decisions_total")
    for route in ("edge", "central"):
        assert sum(v for k, v in counted.items() if ("route", route) in k) == \
            sum(d["route"] == route for d in answered)
    assert samples(text, "request_latency_seconds_count") == {(("decision", "negative_review"),): 1.0}
    assert samples(text, "central_errors_total") == {}


def test_a_stopped_central_turns_central_routes_into_fallback(edge_bundle, central_deploy, tmp_path):
    records = [{"review_text": s} for s in edge_bundle.sentences]
    with running_pod(central_deploy.path, tmp_path / "central") as central, \
            running_pod(edge_bundle.path, tmp_path / "edge", "--central-url", central.url) as edge:
        before = httpx.post(edge.url + URL, json={"records": records}, timeout=10.0).json()["decisions"]
        stop(central.proc)
        after = httpx.post(edge.url + URL, json={"records": records}, timeout=10.0).json()["decisions"]
        metrics = httpx.get(edge.url + "/metrics").text

    unsure = [d["route"] == "central" for d in before]
    assert any(unsure)
    assert [d["route"] for d in after] == ["fallback" if u else "edge" for u in unsure]
    # A fallback answer is the edge model's own.
    assert {d["bundle_sha256"] for d in after} == {edge_bundle.manifest["bundle_sha256"]}
    assert samples(metrics, "central_errors_total") == {(("decision", "negative_review"),): 1.0}
    fallback = [line for line in read_log(edge.log_dir, 2 * len(records)) if line["route"] == "fallback"]
    assert len(fallback) == sum(unsure)
    assert all(line["central_label"] is None and "unreachable" in line["central_error"]
               and line["route_reason"] == "central_error" for line in fallback)
    asked = [line for line in read_log(edge.log_dir, 2 * len(records)) if line["route"] == "central"]
    assert len(asked) == sum(unsure) and {line["route_reason"] for line in asked} == {"abstain"}


def test_a_tampered_bundle_stops_the_pod_before_it_serves(edge_bundle, tmp_path):
    bundle = shutil.copytree(edge_bundle.path, tmp_path / "tampered")
    tokenizer = bundle / "tokenizer.json"
    tokenizer.write_text(tokenizer.read_text().replace("[UNK]", "[UNX]", 1))
    done = subprocess.run(pod_command(bundle, free_port(), tmp_path / "log"), cwd=REPO,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "refusing to start" in done.stderr and "tokenizer.json" in done.stderr


@pytest.mark.parametrize("bundle_name, decision, record", [
    ("edge_bundle", "negative_review", {"review_text": "Cold food, rude staff."}),
    ("hybrid_bundle", "price_spike", {"title": "USB cable", "prices": [980, 780, 780, 790, 780, 780]}),
])
def test_the_pod_decides_without_torch_or_transformers(bundle_name, decision, record, request, tmp_path):
    bundle = request.getfixturevalue(bundle_name)
    script = textwrap.dedent(f"""
        import sys
        from starlette.testclient import TestClient
        from serving.app import create_app
        import serving.pod
        app = create_app({str(bundle.path)!r}, trust_dir={str(trust_dir())!r},
                         decision_log_dir={str(tmp_path / "log")!r})
        with TestClient(app) as client:
            reply = client.post("/v1/decisions/{decision}", json={{"records": [{record!r}]}})
        assert reply.status_code == 200, reply.text
        heavy = sorted(m for m in ("torch", "transformers") if m in sys.modules)
        print("heavy:", heavy)
        sys.exit(1 if heavy else 0)
    """)
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "heavy: []" in done.stdout


def refused_start(deploy_dir: Path, tmp_path: Path, *extra: str) -> list[str]:
    """Start a pod that must refuse; returns its stderr lines after checking exit status 2."""
    done = subprocess.run(pod_command(deploy_dir, free_port(), tmp_path / "log", *extra), cwd=REPO,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stderr
    return done.stderr.strip().splitlines()


def test_a_corrupt_manifest_is_a_one_line_refusal(edge_bundle, tmp_path):
    bundle = shutil.copytree(edge_bundle.path, tmp_path / "corrupt")
    (bundle / "manifest.json").write_text('{"decision": "negative_review", ')
    [line] = refused_start(bundle, tmp_path)
    # The signature is checked before the manifest is parsed: an edited manifest is a tampered bundle.
    assert line.startswith(f"refusing to start: bundle in {bundle} changed after signing")
    assert line.endswith("manifest.json changed")


def test_a_release_of_another_model_stops_the_pod(edge_bundle, tmp_path):
    bundle = shutil.copytree(edge_bundle.path, tmp_path / "mixed")
    (bundle / "release.json").write_text(json.dumps({**edge_bundle.release, "model_name": "price_spike"}))
    [line] = refused_start(bundle, tmp_path)
    assert line.startswith("refusing to start: release.json")
    assert "releases model 'price_spike'" in line and "'test-minilm-1l'" in line


def test_an_edge_pod_refuses_a_central_url_that_is_not_a_central_pod(pods, edge_bundle, tmp_path):
    # pods["edge"] answers /healthz as an edge pod of the same decision.
    [line] = refused_start(edge_bundle.path, tmp_path, "--central-url", pods["edge"])
    assert line == (f"refusing to start: {pods['edge']} answers as a pod with role 'edge' deciding "
                    "'negative_review'; this pod needs role 'central' deciding 'negative_review'")


@pytest.mark.parametrize("extra, named", [
    (("--port", "70000"), "--port"),
    (("--threads", "0"), "--threads"),
    (("--central-url", "127.0.0.1:8101"), "--central-url"),
])
def test_invalid_pod_options_are_usage_errors(edge_bundle, tmp_path, extra, named):
    command = pod_command(edge_bundle.path, free_port(), tmp_path / "log", *extra)
    # The last --port wins, so the parametrised one replaces free_port().
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stderr
    assert named in done.stderr and "Traceback" not in done.stderr


def test_an_invalid_body_limit_is_a_one_line_refusal(edge_bundle, tmp_path):
    command = pod_command(edge_bundle.path, free_port(), tmp_path / "log", "--max-body-bytes", "0")
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().splitlines() == ["refusing to start: threads and max_body_bytes must be at least 1, "
                                                "got 1 and 0"]


def test_an_unreachable_central_at_start_up_is_a_warning_not_a_refusal(edge_bundle, tmp_path):
    silent = f"http://127.0.0.1:{free_port()}"
    records = [{"review_text": s} for s in edge_bundle.sentences]
    with running_pod(edge_bundle.path, tmp_path, "--central-url", silent) as edge:
        decisions = httpx.post(edge.url + URL, json={"records": records}, timeout=10.0).json()["decisions"]
    assert {d["route"] for d in decisions} == {"edge", "fallback"}
    warning = (tmp_path / "pod.err").read_text()
    assert f"central pod at {silent} is unreachable (ConnectError)" in warning
    assert "starting anyway" in warning


def test_bodies_over_the_limit_are_413_before_they_are_parsed(pods):
    big = b'{"records": [{"review_text": "' + b"x" * 70_000 + b'"}]}'
    headers = {"content-type": "application/json"}
    declared = httpx.post(pods["edge"] + URL, content=big, headers=headers, timeout=10.0)
    assert declared.status_code == 413
    assert declared.json() == {"error": f"body of {len(big):,} bytes is over the limit of 65,536 bytes"}
    # Chunked: no Content-Length, so the pod counts while reading.
    streamed = httpx.post(pods["edge"] + URL, content=iter([big[:40_000], big[40_000:]]), headers=headers,
                          timeout=10.0)
    assert streamed.status_code == 413
    assert streamed.json() == {"error": "body is over the limit of 65,536 bytes"}
    # The central pod runs with the default limit, 4 MiB: a 19 MB body is refused unread.
    huge = httpx.post(pods["central"] + URL, content=b"[" * 19_000_000, headers=headers, timeout=30.0)
    assert huge.status_code == 413 and "limit of 4,194,304 bytes" in huge.json()["error"]
    assert samples(httpx.get(pods["edge"] + "/metrics").text, "rejected_requests_total") == {
        (("reason", "too_large"),): 2.0}
