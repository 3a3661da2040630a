"""Enforce a decision's feature contract on request records, and digest what the model saw.

The contract arrives inside the bundle manifest (key ``feature_contract``) as plain JSON::

    {"decision": str,
     "fields": {name: {"type": "string"|"number"|"integer",
                       "role": "feature"|"key",      # keys are logged, never fed to the model
                       "required": bool,
                       "max_length": int,            # strings only, characters
                       "min": float, "max": float}}} # numbers only

A record may hold only contract fields (data minimisation is the harvester's job; a pod refuses
rather than silently drops). A ``null`` optional field counts as absent.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass
from typing import Any

from edge_export.manifest import BundleError

TYPES = ("string", "number", "integer")
ROLES = ("feature", "key")


@dataclass(frozen=True)
class FieldError:
    """One reason a request is refused.

    Attributes:
        record: index of the record in the request's ``records`` list, or None for the request.
        field: offending field name, or None when the whole record or request is at fault.
        message: human-readable reason.
    """

    record: int | None
    field: str | None
    message: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form: ``{"record", "field", "message"}``."""
        return asdict(self)


def check_contract(contract: Any, decision: str) -> None:
    """Refuse a contract this pod cannot enforce or feed to a text-only graph.

    Raises:
        BundleError: the contract is not a dict with ``fields``, names another decision, uses an
            unknown type or role, or has a non-string feature (the bundle's graph takes text only).
    """
    if not isinstance(contract, dict) or not isinstance(contract.get("fields"), dict):
        raise BundleError("manifest feature_contract must be an object with 'fields'")
    if contract.get("decision", decision) != decision:
        raise BundleError(f"feature_contract is for {contract['decision']!r}, bundle decides {decision!r}")
    for name, spec in contract["fields"].items():
        if spec.get("type") not in TYPES or spec.get("role") not in ROLES:
            raise BundleError(f"feature_contract field {name!r}: unknown type or role in {spec}")
        if spec["role"] == "feature" and spec["type"] != "string":
            raise BundleError(f"feature_contract field {name!r} is numeric; the graph takes text only")
    if not text_fields(contract):
        raise BundleError("feature_contract has no feature field for the model to read")


def text_fields(contract: dict[str, Any]) -> list[str]:
    """Names of the feature-role fields, in contract order (all strings after :func:`check_contract`)."""
    return [name for name, spec in contract["fields"].items() if spec["role"] == "feature"]


def _type_error(spec: dict[str, Any], value: Any) -> str | None:
    kind = spec["type"]
    if kind == "string":
        if not isinstance(value, str):
            return f"expected a string, got {type(value).__name__}"
        if "max_length" in spec and len(value) > spec["max_length"]:
            return f"string of {len(value)} characters exceeds max_length {spec['max_length']}"
        return None
    # bool is an int subclass in Python, but true/false is not a number in a contract.
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return f"expected {'an integer' if kind == 'integer' else 'a number'}, got {type(value).__name__}"
    if kind == "integer" and not isinstance(value, int):
        return "expected an integer, got a fractional number"
    if not math.isfinite(value):
        return "expected a finite number"
    if "min" in spec and value < spec["min"]:
        return f"{value} is below min {spec['min']}"
    if "max" in spec and value > spec["max"]:
        return f"{value} is above max {spec['max']}"
    return None


def check_record(record: Any, contract: dict[str, Any], index: int) -> list[FieldError]:
    """Every contract violation of one record (empty list when it conforms).

    Args:
        record: one element of the request's ``records``.
        contract: the bundle's feature contract.
        index: the record's position, reported back in each :class:`FieldError`.
    """
    if not isinstance(record, dict):
        return [FieldError(index, None, "record must be a JSON object")]
    fields = contract["fields"]
    errors = [FieldError(index, name, "field is not in the feature contract")
              for name in record if name not in fields]
    for name, spec in fields.items():
        value = record.get(name)
        if value is None:
            if spec.get("required", False):
                errors.append(FieldError(index, name, "required field is missing"))
            continue
        reason = _type_error(spec, value)
        if reason:
            errors.append(FieldError(index, name, reason))
    return errors


def features_of(record: dict[str, Any], contract: dict[str, Any]) -> dict[str, Any]:
    """The feature-role fields of a conforming record that are present (non-null)."""
    return {name: record[name] for name in text_fields(contract) if record.get(name) is not None}


def model_text(features: dict[str, Any], contract: dict[str, Any]) -> str:
    """The one text the model reads: the present feature strings in contract order, newline-joined."""
    return "\n".join(features[name] for name in text_fields(contract) if name in features)


def canonical_json(obj: Any) -> bytes:
    """UTF-8 canonical JSON: sorted keys, no whitespace, non-ASCII kept as is."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def signal_digest(features: dict[str, Any]) -> str:
    """sha256 hex over the canonical JSON of exactly the features the model saw.

    With the warehouse copy of a signal, this reconstructs any logged decision without the
    decision log ever holding raw text.
    """
    return hashlib.sha256(canonical_json(features)).hexdigest()
