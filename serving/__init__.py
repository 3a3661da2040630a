"""Serving room: the edge pod that turns a validated signal into a decision in milliseconds.

Modules, one concept each:

- :mod:`serving.inference`     ``EdgeModel``: tokenizer + ONNX Runtime session of one bundle (text
                               only, or text plus a ``numeric`` float32 input in one graph).
- :mod:`serving.oracle`        ``RuleOracle``: a central bundle that is its decision's label rule
                               (no graph; exact on the contract's number window).
- :mod:`serving.bundle_model`  ``open_bundle``: the release signature verified, then the manifest's
                               oracle kind picks the class.
- :mod:`serving.contract`      request validation against the bundle's feature contract; which
                               fields feed the text and numeric inputs; signal digest.
- :mod:`serving.router`        hybrid oracle: edge first, central model below the abstain threshold,
                               fallback when central fails, deterministic shadow sampling.
- :mod:`serving.central_answer` the per-record check of central's answers (a refused one falls back).
- :mod:`serving.trained_range` the out-of-range guard: the manifest's ``trained_range``, and the
                               check that sends a record outside it to central.
- :mod:`serving.route_reason`  why a decision took its route (``confident``, ``abstain``,
                               ``out_of_range``, ``central_error``, …), logged with it.
- :mod:`serving.input_profile` per-record input profile (word count, out-of-vocabulary share,
                               numeric level/change) logged with each decision for drift checks.
- :mod:`serving.decision_log`  append-only, hash-chained JSONL log of every decision (no raw text).
- :mod:`serving.auth`          bearer-token checks (EdDSA JWTs: audience, scope, expiry, replay).
- :mod:`serving.jwks_file`     the JWK Set of the pod's trusted keys, re-read when its file changes.
- :mod:`serving.replay`        token ids already accepted (replay protection).
- :mod:`serving.app`           Starlette app: ``/v1/decisions/{decision}``, ``/healthz``, ``/metrics``.
- :mod:`serving.pod`           command line that starts one pod under uvicorn.

This package imports the standard library, numpy, onnxruntime, tokenizers, the web stack
(starlette, uvicorn, httpx, prometheus_client) and, of our code, only ``commons``
(``manifest``, ``bundle_signature``, ``settings``, ``http``, ``tokens``, ``traffic``, ``token_keys``,
``token_client`` for the edge pod's own tokens to its central pod; PyJWT and cryptography for
tokens, OpenSSF model-signing for bundle signatures; PyKCS11, through ``token_keys``, only when
its audit key lives in a PKCS#11 token),
so a pod installs and starts without torch.
"""
