"""The per-record check of the central model's answers.

Central's answers are checked one by one (:func:`check_central_answer`): only a label among the
bundle's labels, a finite score in [0, 1], a string ``model_version`` of at most
:data:`MAX_MODEL_VERSION_CHARS` characters, a 64-hex ``bundle_sha256`` and the record's own signal
digest pass; any other answer sends that record alone to the fallback route (NaN or a 5 MB
string in an answer must never reach the client or the signed decision log).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

MAX_MODEL_VERSION_CHARS = 128
"""Longest ``model_version`` accepted from central: it is echoed to the client and logged."""
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class CentralAnswer:
    """Central's answer for one record once checked: the answer, or why it was refused.

    Attributes:
        label, score, model_version, bundle_sha256: the accepted answer (None when refused).
        error: why the answer was refused (that record takes the fallback route), None when accepted.
    """

    label: str | None = None
    score: float | None = None
    model_version: str | None = None
    bundle_sha256: str | None = None
    error: str | None = None


def check_central_answer(answer: Any, digest: str, labels: list[str] | tuple[str, ...]) -> CentralAnswer:
    """Accept one decision of central's reply only if it is fit to answer a client and be logged.

    Args:
        answer: one element of the reply's ``decisions`` (any JSON value; Python's parser also
            lets NaN and Infinity through).
        digest: the signal digest of the record it answers (sha256 hex): a different one means
            central saw other features.
        labels: the bundle's labels.

    Returns:
        A :class:`CentralAnswer`: accepted when ``label`` is one of ``labels``, ``score`` a finite
        JSON number in [0, 1], ``model_version`` a string of 1 to :data:`MAX_MODEL_VERSION_CHARS`
        characters and ``bundle_sha256`` 64 lowercase hex digits; else refused with a reason that
        names the field but never echoes the value (it may be megabytes).
    """
    if not isinstance(answer, dict):
        return CentralAnswer(error="central answer is not an object")
    score, version, sha = answer.get("score"), answer.get("model_version"), answer.get("bundle_sha256")
    if answer.get("signal_digest") != digest:
        return CentralAnswer(error="central answer is for other features (signal digest differs)")
    if not isinstance(answer.get("label"), str) or answer["label"] not in labels:
        return CentralAnswer(error="central answer has a label the bundle does not know")
    # bool is an int to Python, and json.loads turns NaN/Infinity into floats.
    if isinstance(score, bool) or not isinstance(score, (int, float)) or not math.isfinite(score) \
            or not 0.0 <= score <= 1.0:
        return CentralAnswer(error="central answer has a score that is not a number in [0, 1]")
    if not isinstance(version, str) or not 0 < len(version) <= MAX_MODEL_VERSION_CHARS:
        return CentralAnswer(error=f"central answer has a model_version that is not a string of 1 to "
                                   f"{MAX_MODEL_VERSION_CHARS} characters")
    if not isinstance(sha, str) or not _SHA256_HEX.fullmatch(sha):
        return CentralAnswer(error="central answer has a bundle_sha256 that is not 64 hex digits")
    return CentralAnswer(label=answer["label"], score=float(score), model_version=version, bundle_sha256=sha)
