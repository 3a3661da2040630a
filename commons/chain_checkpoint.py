"""Checkpoints of a hash-chained log: the chain head, signed.

A checkpoint is itself a chain line (:mod:`commons.hash_chain`) whose record is::

    {"checkpoint": {"head": <hash of the line before it>, "lines": <lines before it in the log>,
                    "reason": "interval" | "stop" | "event", "ts": <UTC ISO 8601>,
                    "alg": "EdDSA", "kid": <signing key id>, "sig": <base64url Ed25519 signature>}}

The signature covers the canonical bytes of the ``checkpoint`` object without ``sig``. Whoever
edits the log and recomputes every later hash still cannot re-sign the checkpoints after the edit
without the key. A writer without a key writes the same object with ``alg``, ``kid`` and ``sig``
null: the chain still holds, but only against someone who does not recompute hashes.
The keys are :mod:`commons.token_keys` keys; verifiers trust the public keys of a JWKS file.
"""

from __future__ import annotations

import base64
from datetime import datetime, timezone
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from .hash_chain import canonical
from .token_keys import ALGORITHM, SigningKey

CHECKPOINT = "checkpoint"
"""The member that marks a line as a checkpoint, not a record of the log."""
UNSIGNED = "unsigned"
UNTRUSTED_KEY = "untrusted_key"
BAD_SIGNATURE = "bad_signature"


def is_checkpoint(line: dict[str, Any]) -> bool:
    """Whether a parsed log line is a checkpoint (readers of records skip those)."""
    return isinstance(line.get(CHECKPOINT), dict)


def _payload(body: dict[str, Any]) -> bytes:
    return canonical({k: v for k, v in body.items() if k != "sig"})


def checkpoint_entry(head: str, lines: int, reason: str, key: SigningKey | None,
                     now: datetime | None = None) -> dict[str, Any]:
    """The record of a checkpoint over a log of ``lines`` lines ending in the line hashed ``head``.

    Args:
        head: ``hash`` of the log's last line (:data:`commons.hash_chain.GENESIS` when empty).
        lines: how many lines the log holds before this checkpoint.
        reason: why it is written: ``interval`` (every N lines), ``stop`` (the writer closes),
            ``event`` (after each control-plane event).
        key: the signing key, or None for an unsigned checkpoint.
        now: the time recorded (UTC), default the clock.
    """
    ts = (now or datetime.now(timezone.utc)).isoformat(timespec="milliseconds")
    body = {"head": head, "lines": lines, "reason": reason, "ts": ts,
            "alg": ALGORITHM if key else None, "kid": key.kid if key else None, "sig": None}
    if key is not None:
        signature = key.sign(_payload(body))
        body["sig"] = base64.urlsafe_b64encode(signature).rstrip(b"=").decode("ascii")
    return {CHECKPOINT: body}


def signature_fault(body: dict[str, Any], trusted: dict[str, Ed25519PublicKey]) -> str | None:
    """What is wrong with a checkpoint's signature under the ``trusted`` keys (by ``kid``).

    Returns:
        None when it verifies; :data:`UNSIGNED` when it carries no signature;
        :data:`UNTRUSTED_KEY` when its ``kid`` is not trusted (or its ``alg`` is not EdDSA);
        :data:`BAD_SIGNATURE` when the signature does not verify under that key.
    """
    if body.get("sig") is None and body.get("kid") is None:
        return UNSIGNED
    key = trusted.get(str(body.get("kid")))
    if key is None or body.get("alg") != ALGORITHM:
        return UNTRUSTED_KEY
    try:
        sig = str(body.get("sig"))
        key.verify(base64.urlsafe_b64decode(sig + "=" * (-len(sig) % 4)), _payload(body))
    except (InvalidSignature, ValueError):
        return BAD_SIGNATURE
    return None
