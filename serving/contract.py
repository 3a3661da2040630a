"""Enforce a decision's feature contract on request records, and digest what the model saw.

The contract arrives inside the bundle manifest (key ``feature_contract``) as plain JSON, in the
shape :mod:`commons.contracts` describes.

A record may hold only contract fields (data minimisation is the harvester's job; a pod refuses
rather than silently drops). A ``null`` optional field counts as absent. A string must be valid
Unicode (no lone surrogate, which JSON's ``\\ud800`` escapes can smuggle in), and a *required*
string feature must hold some visible text — not only whitespace, nor only the invisible
control/format characters (``\u200b``, soft hyphen ``\u00ad``, NUL) that render as nothing: the
pipeline quarantines empty texts, so the model never learned what one means. A ``key`` field (the
decision log keeps it) must be one ``erase`` can name: a letter or digit, no white space at its ends,
no control or format character (:func:`commons.text_rules.key_problem`, the push intake's rule); a
``title`` may hold no control character but tab and line breaks.

Three optional manifest keys say how feature fields become model input (:func:`model_inputs`):

- ``text_fields``: string feature fields whose values are joined with ``"\\n"`` into the one text
  the tokenizer reads; default every string feature field, in contract order.
- ``numeric_inputs``: ``[{"field": name, "length": k}, ...]``; per record, the values of these
  fields are concatenated in this order into the graph's ``numeric`` row (float32, width the sum
  of the ``k``). A ``number``/``integer`` field has ``k = 1``, a ``number_list`` field ``k`` equal
  to its contract ``length``. Default: none (a text-only graph).
- ``ignored_fields``: feature fields the model deliberately does not read (a price_spike student
  decides on the numbers alone; its central oracle, the label rule, needs no title either). With
  ``text_fields: []`` beside it the graph reads an empty text.

Every feature field must be read by the model one of these ways or be listed as ignored, so a
forgotten field is an error; the signal digest covers the record's feature fields as the contract
defines them (the record the hybrid oracle and ``explain`` see).
"""

from __future__ import annotations

import hashlib
import json
import math
import sys
import unicodedata
from dataclasses import asdict, dataclass
from typing import Any

from commons.manifest import BundleError
from commons.text_rules import LINE_CONTROLS, hidden_character, key_problem

TYPES = ("string", "number", "integer", "number_list")
ROLES = ("feature", "key")
NUMERIC_TYPES = ("number", "integer", "number_list")


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
        """JSON-ready form: ``{"record", "field", "message"}``.

        A field name is echoed from the request, so a lone surrogate in it is written as its
        ``\\udXXX`` escape: the answer must encode as UTF-8 whatever the client sent.
        """
        return {**asdict(self), "field": None if self.field is None else printable(self.field)}


@dataclass(frozen=True)
class NumericInput:
    """One field's slice of the graph's ``numeric`` row.

    Attributes:
        field: contract field name (type ``number``, ``integer`` or ``number_list``).
        length: values it contributes per record (1 for a scalar).
    """

    field: str
    length: int


@dataclass(frozen=True)
class ModelInputs:
    """How a contract-conforming record becomes model input.

    Attributes:
        text_fields: string feature fields joined with ``"\\n"`` into the tokenizer's text (empty:
            the graph reads an empty text).
        numeric_inputs: fields concatenated, in order, into the ``numeric`` row; empty for a
            text-only graph.
        ignored_fields: feature fields of the contract this model deliberately does not read
            (they still belong to the record's features and its digest: the central oracle and
            the decision log see the record the contract defines).
    """

    text_fields: tuple[str, ...]
    numeric_inputs: tuple[NumericInput, ...] = ()
    ignored_fields: tuple[str, ...] = ()

    @property
    def numeric_width(self) -> int:
        """Width of the ``numeric`` row (0 when the graph takes text only)."""
        return sum(n.length for n in self.numeric_inputs)

    @property
    def feature_fields(self) -> tuple[str, ...]:
        """Every field the model reads: the text fields, then the numeric ones."""
        return self.text_fields + tuple(n.field for n in self.numeric_inputs)

    def features(self, record: dict[str, Any]) -> dict[str, Any]:
        """The feature fields of a conforming record that are present (non-null): those the model
        reads, and those it ignores."""
        return {name: record[name] for name in self.feature_fields + self.ignored_fields
                if record.get(name) is not None}

    def text(self, features: dict[str, Any]) -> str:
        """The one text the model reads: present text fields in order, newline-joined."""
        return "\n".join(features[name] for name in self.text_fields if name in features)

    def numeric_row(self, features: dict[str, Any]) -> list[float]:
        """The record's ``numeric`` row: ``numeric_width`` floats, fields in order.

        Numeric input fields are required (see :func:`model_inputs`), so a conforming record
        always has them.
        """
        row: list[float] = []
        for spec in self.numeric_inputs:
            value = features[spec.field]
            row.extend(float(v) for v in (value if isinstance(value, list) else [value]))
        return row


def check_contract(contract: Any, decision: str) -> None:
    """Refuse a contract this pod cannot enforce.

    Raises:
        BundleError: the contract is not a dict with ``fields``, names another decision, uses an
            unknown type or role, or gives a ``number_list`` no positive integer ``length``.
    """
    if not isinstance(contract, dict) or not isinstance(contract.get("fields"), dict):
        raise BundleError("manifest feature_contract must be an object with 'fields'")
    if contract.get("decision", decision) != decision:
        raise BundleError(f"feature_contract is for {contract['decision']!r}, bundle decides {decision!r}")
    for name, spec in contract["fields"].items():
        if not isinstance(spec, dict) or spec.get("type") not in TYPES or spec.get("role") not in ROLES:
            raise BundleError(f"feature_contract field {name!r}: unknown type or role in {spec}")
        if spec["type"] == "number_list":
            length = spec.get("length")
            if isinstance(length, bool) or not isinstance(length, int) or length < 1:
                raise BundleError(f"feature_contract field {name!r}: number_list needs a positive "
                                  f"integer 'length', got {length!r}")


def model_inputs(manifest: dict[str, Any], decision: str) -> ModelInputs:
    """Check the manifest's contract, ``text_fields`` and ``numeric_inputs`` against each other.

    Args:
        manifest: a verified bundle manifest (keys ``feature_contract`` and, optionally,
            ``text_fields`` and ``numeric_inputs``; see the module docstring).
        decision: the decision the bundle makes.

    Returns:
        The mapping from records to model input.

    Raises:
        BundleError: the contract fails :func:`check_contract`; a text field is not a string
            feature field; a numeric input is malformed, not a numeric feature field, optional
            (the graph needs a value for every record), or its ``length`` differs from the
            field's (1 for a scalar); a field is listed twice; no text field is left for the
            tokenizer without ``ignored_fields`` saying why; an ignored field is not a feature
            field; or a feature field is read neither as text nor as a numeric input nor ignored.
    """
    contract = manifest.get("feature_contract")
    check_contract(contract, decision)
    fields = contract["fields"]
    features = [name for name, spec in fields.items() if spec["role"] == "feature"]

    texts = manifest.get("text_fields")
    if texts is None:
        texts = [name for name in features if fields[name]["type"] == "string"]
    if not isinstance(texts, list):
        raise BundleError(f"manifest text_fields must be a list of field names, got {texts!r}")
    for name in texts:
        spec = fields.get(name) if isinstance(name, str) else None
        if spec is None or spec["role"] != "feature" or spec["type"] != "string":
            raise BundleError(f"text_fields entry {name!r} is not a string feature field of the contract")

    numeric = []
    for entry in manifest.get("numeric_inputs") or []:
        if not isinstance(entry, dict) or set(entry) != {"field", "length"}:
            raise BundleError(f"numeric_inputs entry {entry!r} must be {{'field': name, 'length': k}}")
        name, length = entry["field"], entry["length"]
        spec = fields.get(name) if isinstance(name, str) else None
        if spec is None or spec["role"] != "feature" or spec["type"] not in NUMERIC_TYPES:
            raise BundleError(f"numeric_inputs field {name!r} is not a numeric feature field of the contract")
        if not spec.get("required", False):
            raise BundleError(f"numeric_inputs field {name!r} must be required: "
                              "the graph needs a value for every record")
        expected = spec["length"] if spec["type"] == "number_list" else 1
        if isinstance(length, bool) or length != expected:
            raise BundleError(f"numeric_inputs field {name!r} has length {length!r}, "
                              f"the contract gives it {expected}")
        numeric.append(NumericInput(name, expected))

    ignored = manifest.get("ignored_fields") or []
    if not isinstance(ignored, list) or not all(isinstance(name, str) and fields.get(name, {}).get("role") == "feature"
                                                for name in ignored):
        raise BundleError(f"manifest ignored_fields must list feature fields of the contract, got {ignored!r}")
    inputs = ModelInputs(tuple(texts), tuple(numeric), tuple(ignored))
    listed = inputs.feature_fields + inputs.ignored_fields
    if len(set(listed)) != len(listed):
        raise BundleError(f"a field is listed twice in text_fields/numeric_inputs/ignored_fields: {list(listed)}")
    unread = [name for name in features if name not in listed]
    if unread:
        kinds = {fields[name]["type"] for name in unread}
        hint = " (numeric fields need numeric_inputs)" if kinds & set(NUMERIC_TYPES) else ""
        raise BundleError(f"feature fields {unread} are read by the model neither as text nor as "
                          f"numeric input{hint}")
    if not texts and not ignored:
        # The graph always takes input_ids: without a text field it reads empty strings, which only
        # a bundle that says which fields it ignores was trained for.
        raise BundleError("feature_contract has no text feature field for the model to read")
    return inputs


def printable(text: str) -> str:
    """``text`` with every lone surrogate replaced by its ``\\udXXX`` escape (safe to encode)."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _unicode_error(value: str) -> str | None:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as err:
        return f"invalid unicode: lone surrogate at character {err.start}"
    return None


def _has_visible(value: str) -> bool:
    """True when ``value`` has a character that renders: Unicode general categories C*
    (control, format such as U+200B/U+00AD, surrogate, private use, unassigned) and Z* (space and
    line/paragraph separators) show nothing by themselves (Unicode Standard, ch. 4.5)."""
    return any(unicodedata.category(ch)[0] not in "CZ" and not ch.isspace() for ch in value)


def _number_error(spec: dict[str, Any], value: Any, integer: bool) -> str | None:
    # bool is an int subclass in Python, but true/false is not a number in a contract.
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return f"expected {'an integer' if integer else 'a number'}, got {type(value).__name__}"
    if integer and not isinstance(value, int):
        return "expected an integer, got a fractional number"
    # JSON integers are unbounded; one beyond float range would overflow math.isfinite() and
    # the float32 the graph reads (Python compares int and float exactly, without converting).
    if isinstance(value, int) and abs(value) > sys.float_info.max:
        return "number is out of range"
    if not math.isfinite(value):
        return "expected a finite number"
    if "min" in spec and value < spec["min"]:
        return f"{value} is below min {spec['min']}"
    if "max" in spec and value > spec["max"]:
        return f"{value} is above max {spec['max']}"
    return None


def _type_error(spec: dict[str, Any], value: Any) -> str | None:
    kind = spec["type"]
    if kind == "string":
        if not isinstance(value, str):
            return f"expected a string, got {type(value).__name__}"
        unicode_error = _unicode_error(value)
        if unicode_error:
            return unicode_error
        if spec["role"] == "feature" and spec.get("required", False) and not _has_visible(value):
            return "required text must contain non-whitespace characters"
        if "max_length" in spec and len(value) > spec["max_length"]:
            return f"string of {len(value)} characters exceeds max_length {spec['max_length']}"
        return None
    if kind == "number_list":
        if not isinstance(value, list):
            return f"expected a list of {spec['length']} numbers, got {type(value).__name__}"
        if len(value) != spec["length"]:
            return f"list of {len(value)} values, expected exactly {spec['length']}"
        for i, element in enumerate(value):
            reason = _number_error(spec, element, integer=False)
            if not reason and spec.get("whole") and isinstance(element, float) and not element.is_integer():
                # 3.0 passes: a client's float of a count is still the count.
                reason = f"expected a whole number, got {element}"
            if reason:
                return f"element {i}: {reason}"
        return None
    return _number_error(spec, value, integer=kind == "integer")


def _text_error(name: str, spec: dict[str, Any], value: str) -> str | None:
    """The text rules of :mod:`commons.text_rules`: a key, which the decision log keeps, must be one
    ``erase`` can name; a title holds no control character but tab and line breaks, as at push
    intake. Its format characters stay: titles of crawled pages reach a pod too (soft hyphens)."""
    if spec["role"] == "key":
        return key_problem(value)
    if name == "title":
        return hidden_character(value, LINE_CONTROLS, controls_only=True)
    return None


def check_record(record: Any, contract: dict[str, Any], index: int) -> list[FieldError]:
    """Every contract violation of one record (empty list when it conforms).

    A ``number_list`` value is reported once, at its first bad element.

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
        if not reason and isinstance(value, str):
            reason = _text_error(name, spec, value)
        if reason:
            errors.append(FieldError(index, name, reason))
    return errors


def canonical_json(obj: Any) -> bytes:
    """UTF-8 canonical JSON: sorted keys, no whitespace, non-ASCII kept as is."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def signal_digest(features: dict[str, Any]) -> str:
    """sha256 hex over the canonical JSON of exactly the features the model saw.

    ``features`` is :meth:`ModelInputs.features` of the record: text and numeric fields with
    their values as the client sent them (numbers digested as JSON numbers, not as the float32
    the graph receives). With the warehouse copy of a signal, this reconstructs any logged
    decision without the decision log ever holding raw text.
    """
    return hashlib.sha256(canonical_json(features)).hexdigest()
