"""Cost of keeping the token-issuing and audit keys in a PKCS#11 token: SoftHSM2 vs PEM files.

Two Ed25519 keys made as ``edge-insights token keygen`` makes them (:func:`commons.token_keys.rotate_keys`):
``softhsm`` inside the SoftHSM2 token under the state folder (signing is ``C_Sign`` with
``CKM_EDDSA`` through PyKCS11), ``pem`` a PEM file (``cryptography`` in process). Each issues
``--n`` tokens (:func:`commons.tokens.issue_token`, claims and JWS included) and signs ``--n``
audit checkpoints (:func:`commons.chain_checkpoint.checkpoint_entry`), the two keys taking turns
operation by operation so load from other processes falls on both alike. Every token is then
verified with PyJWT against its JWKS, every checkpoint against the trusted keys (outside the timing).

Run: ``.venv/bin/python benchmarks/signing_keys_cost.py [--n 1000]`` from the repository root.
Writes ``<state>/benchmarks/signing_keys_cost.json`` and prints the table; ratios are reported,
not enforced.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import jwt

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from commons.chain_checkpoint import checkpoint_entry, signature_fault  # noqa: E402
from commons.hash_chain import GENESIS  # noqa: E402
from commons.key_store import key_store  # noqa: E402
from commons.pkcs11_uri import is_pkcs11_uri  # noqa: E402
from commons.settings import Settings  # noqa: E402
from commons.token_keys import PEM_STORE, jwks_path, rotate_keys, trusted_keys  # noqa: E402
from commons.tokens import issue_token  # noqa: E402

OPERATIONS = ("token", "checkpoint")


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; returns the exit status (0, or 1 when SoftHSM2 is not installed)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1000, help="tokens issued and checkpoints signed per key")
    args = parser.parse_args(argv)
    settings = Settings.from_env().ensure()
    store = key_store(settings)
    if not is_pkcs11_uri(store):
        print(f"no PKCS#11 token to compare with (key store {store!r}): install softhsm2")
        return 1
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="signing_keys_cost_", dir=settings.state_dir) as work:
        folders = {"softhsm": Path(work) / "softhsm", "pem": Path(work) / "pem"}
        keys = {"softhsm": rotate_keys(folders["softhsm"], store=store),
                "pem": rotate_keys(folders["pem"], store=PEM_STORE)}
        seconds = {name: dict.fromkeys(OPERATIONS, 0.0) for name in keys}
        tokens: dict[str, list[str]] = {name: [] for name in keys}
        checkpoints: dict[str, list[dict]] = {name: [] for name in keys}
        for i in range(args.n):
            for name, key in keys.items():
                began = time.perf_counter()
                tokens[name].append(issue_token(key, audience="negative_review", subject=f"client-{i}",
                                                scopes=["decide"], ttl_s=300))
                seconds[name]["token"] += time.perf_counter() - began
                began = time.perf_counter()
                checkpoints[name].append(checkpoint_entry(GENESIS, i, "interval", key)["checkpoint"])
                seconds[name]["checkpoint"] += time.perf_counter() - began
        for name in keys:
            jwk = jwt.PyJWKSet.from_json(jwks_path(folders[name]).read_text())[keys[name].kid]
            for token in tokens[name]:
                jwt.decode(token, jwk.key, algorithms=["EdDSA"], audience="negative_review")
            trusted = trusted_keys(jwks_path(folders[name]))
            assert all(signature_fault(body, trusted) is None for body in checkpoints[name])
    us = {name: {op: s / args.n * 1e6 for op, s in ops.items()} for name, ops in seconds.items()}
    ratio = {op: us["softhsm"][op] / us["pem"][op] for op in OPERATIONS}
    result = {"n": args.n, "us_per_operation": us, "softhsm_over_pem": ratio,
              "all_verified": True, "load_average": [load_before, os.getloadavg()[0]]}
    out = settings.state_dir / "benchmarks" / "signing_keys_cost.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(f"{args.n} tokens issued and {args.n} checkpoints signed per key, interleaved; all verified")
    print(f"{'key':<9}{'token µs':>10}{'checkpoint µs':>15}{'1,000 tokens s':>16}{'1,000 checkpoints s':>21}")
    for name, row in us.items():
        print(f"{name:<9}{row['token']:>10.1f}{row['checkpoint']:>15.1f}{row['token'] / 1000:>16.3f}"
              f"{row['checkpoint'] / 1000:>21.3f}")
    print(f"SoftHSM / PEM: tokens ×{ratio['token']:.2f}, checkpoints ×{ratio['checkpoint']:.2f}; "
          f"load average {load_before:.1f} → {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
