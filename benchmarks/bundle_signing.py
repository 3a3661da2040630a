"""Time to sign and to verify a real bundle: the release step's cost and a pod's start-up cost.

Two bundles are built by the export code (:func:`edge_export.bundle.build_bundle`) from the
all-MiniLM-L6-v2 encoder with an untrained two-label head (size and file layout are what matter
here, not accuracy): an int8 edge student of 3 layers (the demo preset's) and an fp32 central
teacher of 6. Each is signed with the SoftHSM2 token key (when installed) and with a PEM key
(:mod:`edge_export.signer`), then verified as a pod verifies before loading
(:func:`commons.bundle_signature.verify_bundle`: signature, every file's sha256, the manifest's
own hashes, ``not_after``). Median and max of ``--repeats`` runs each.

Run: ``.venv/bin/python benchmarks/bundle_signing.py [--repeats 5]`` from the repository root.
Writes ``<state>/benchmarks/bundle_signing.json`` and prints the table.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from commons.bundle_signature import verify_bundle  # noqa: E402
from commons.settings import Settings  # noqa: E402
from edge_export.bundle import build_bundle  # noqa: E402
from edge_export.release import release_window  # noqa: E402
from edge_export.signer import generate_pem_key, open_signer, release_signer  # noqa: E402
from commons.softhsm import softhsm_available  # noqa: E402
from training.encoder import base_model_path, load_tokenizer, pretrained_classifier, student_from_teacher  # noqa: E402
from training.loop import Inputs  # noqa: E402

REVIEWS = Path("reviews/uci_sentiment_sentences/yelp_labelled.txt")


def built(settings: Settings, folder: Path) -> dict[str, Path]:
    """The edge (3-layer int8) and central (6-layer fp32) bundles, built once into ``folder``."""
    lines = (settings.data_dir / REVIEWS).read_text(encoding="utf-8", errors="replace").splitlines()[:64]
    texts = Inputs([line.rsplit("\t", 1)[0] for line in lines])
    teacher = pretrained_classifier(2, seed=7).eval()
    metadata = {"decision": "negative_review", "labels": ["not_negative", "negative"],
                **release_window(datetime.now(timezone.utc))}
    plans = {"edge": (student_from_teacher(teacher, 3).eval(), True), "central": (teacher, False)}
    for role, (model, int8) in plans.items():
        if not (folder / role / "manifest.json").is_file():
            build_bundle(model, load_tokenizer(), base_model_path() / "tokenizer.json", texts, folder / role,
                         max_length=128, min_agreement=0.0, allow_int8=int8, metadata=metadata)
    return {role: folder / role for role in plans}


def timed(action, repeats: int) -> dict[str, float]:
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        action()
        samples.append((time.perf_counter() - start) * 1000)
    return {"median_ms": float(np.median(samples)), "max_ms": float(max(samples))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    settings = Settings.from_env().ensure()
    out = settings.state_dir / "benchmarks"
    bundles = built(settings, out / "bundle_signing")
    signers = {"pem": open_signer(str(generate_pem_key(out / "bundle_signing_keys" / "release.pem")))}
    signers["pem"].trust(settings.trust_dir)
    if softhsm_available():
        signers["softhsm"] = release_signer(settings)
    rows = []
    for role, folder in bundles.items():
        mb = sum(p.stat().st_size for p in folder.iterdir() if p.is_file() and p.name != "model.sig") / 2**20
        for kind, signer in signers.items():
            sign = timed(lambda: signer.sign(folder), args.repeats)
            verify = timed(lambda: verify_bundle(folder, settings.trust_dir), args.repeats)
            rows.append({"bundle": role, "bundle_mb": round(mb, 1), "key": kind,
                         "sign": sign, "verify": verify})
    (out / "bundle_signing.json").write_text(json.dumps({"repeats": args.repeats, "rows": rows}, indent=2))
    print(f"{'bundle':8} {'MB':>6} {'key':8} {'sign p50 ms':>12} {'sign max':>9} {'verify p50 ms':>14} "
          f"{'verify max':>11}")
    for r in rows:
        print(f"{r['bundle']:8} {r['bundle_mb']:6.1f} {r['key']:8} {r['sign']['median_ms']:12.1f} "
              f"{r['sign']['max_ms']:9.1f} {r['verify']['median_ms']:14.1f} {r['verify']['max_ms']:11.1f}")


if __name__ == "__main__":
    main()
