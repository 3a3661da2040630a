"""The privacy policy: retention, purpose and residency of every store (``privacy_policy.toml``).

The policy is a versioned file beside this module, read here only; retention
(:mod:`commons.retention`), erasure (:mod:`commons.erasure`), the privacy report and pods started
with a region (:mod:`commons.residency`) all take a :class:`Policy`, so a test can hand in its own.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from commons.contracts import CONTRACTS
from commons.errors import EdgeInsightsError

POLICY_PATH = Path(__file__).with_name("privacy_policy.toml")
KINDS = ("table", "files", "chain", "sqlite")
ACTIONS = ("delete", "aggregate")


class PolicyError(EdgeInsightsError):
    """The policy file cannot be read or says something the pipeline cannot apply."""


@dataclass(frozen=True)
class StorePolicy:
    """One store's rule (see the policy file's header for the meaning of each key)."""

    name: str
    kind: str
    time: str
    retention_days: int | None
    action: str
    purpose: str
    why: str
    regions: tuple[str, ...]
    aggregate_into: str | None = None
    database: str | None = None
    table: str | None = None

    def cutoff(self, now: datetime) -> datetime | None:
        """Rows older than this are past policy; None when the store is not time-bound."""
        return None if self.retention_days is None else now - timedelta(days=self.retention_days)


@dataclass(frozen=True)
class Policy:
    """The whole policy: stores by name, the central store's region, field residency, and the
    state-folder entries that hold no subject key (``unkeyed``: entry name -> why)."""

    version: int
    central_region: str
    stores: dict[str, StorePolicy]
    fields: dict[str, tuple[str, ...]]
    unkeyed: dict[str, str]

    def store(self, name: str) -> StorePolicy:
        """The rule of store ``name``. Raises PolicyError when the policy does not name it."""
        try:
            return self.stores[name]
        except KeyError:
            raise PolicyError(f"the privacy policy names no store {name!r}") from None

    @property
    def regions(self) -> tuple[str, ...]:
        """Every region the policy names."""
        found = {self.central_region} | {r for s in self.stores.values() for r in s.regions}
        return tuple(sorted(found | {r for rs in self.fields.values() for r in rs}))


STORE_KEYS = frozenset({"kind", "time", "retention_days", "action", "purpose", "why", "regions",
                        "aggregate_into", "database", "table"})
TOP_KEYS = frozenset({"version", "central_region", "stores", "fields", "unkeyed"})
# What a file or chain store's age is measured on (the policy header): a file's modification time,
# a chained log file's UTC day.
FIXED_TIME = {"files": "mtime", "chain": "day"}
# A century: a longer period is a typo, and past about 2.9 million days a cutoff leaves the calendar.
MAX_RETENTION_DAYS = 36_500
REGION = re.compile(r"[a-z][a-z0-9-]{0,31}")


def _regions(where: str, value: Any) -> tuple[str, ...]:
    """A non-empty list of region names; a bare string is refused (``"eu"`` would read as e, u)."""
    if not isinstance(value, list) or not value or not all(isinstance(r, str) and REGION.fullmatch(r)
                                                            for r in value) or len(set(value)) < len(value):
        raise PolicyError(f"{where}: regions must be a non-empty list of distinct region names such as "
                          f"[\"eu\"], got {value!r}")
    return tuple(value)


def _text(name: str, raw: dict[str, Any], key: str) -> str | None:
    value = raw.get(key)
    if value is not None and not (isinstance(value, str) and value.strip()):
        raise PolicyError(f"store {name!r}: {key} must be text, got {value!r}")
    return value


def _store(name: str, raw: Any) -> StorePolicy:
    if not name.strip():
        raise PolicyError("a store needs a name ([stores.<name>])")
    if not isinstance(raw, dict):
        raise PolicyError(f"store {name!r}: expected a table of keys, got {raw!r}")
    unknown = sorted(set(raw) - STORE_KEYS)
    if unknown:
        raise PolicyError(f"store {name!r}: unknown key(s) {', '.join(unknown)}; "
                          f"known: {', '.join(sorted(STORE_KEYS))}")
    kind, action, time = raw.get("kind"), raw.get("action", "delete"), raw.get("time", "")
    days = raw.get("retention_days")
    if kind not in KINDS or action not in ACTIONS:
        raise PolicyError(f"store {name!r}: kind must be one of {KINDS} and action one of {ACTIONS}")
    # bool is an int in Python: `retention_days = true` must not read as one day.
    whole_days = isinstance(days, int) and not isinstance(days, bool) and 1 <= days <= MAX_RETENTION_DAYS
    if (not isinstance(time, str) or time != time.strip() or bool(time) != (days is not None)
            or (days is not None and not whole_days)):
        raise PolicyError(f"store {name!r}: a time-bound store needs `time` and retention_days from 1 to "
                          f"{MAX_RETENTION_DAYS} (a whole number of days), a store without `time` no retention_days")
    if time and kind in FIXED_TIME and time != FIXED_TIME[kind]:
        raise PolicyError(f"store {name!r}: a {kind} store is aged on time = \"{FIXED_TIME[kind]}\", not {time!r}")
    if (action == "aggregate") != bool(raw.get("aggregate_into")) or (action == "aggregate" and kind != "table"):
        raise PolicyError(f"store {name!r}: action aggregate (warehouse tables only) needs aggregate_into, "
                          "and only it takes one")
    if (kind == "sqlite") != bool(raw.get("database") and raw.get("table")) or (
            kind != "sqlite" and ("database" in raw or "table" in raw)):
        raise PolicyError(f"store {name!r}: a sqlite store needs `database` and `table`, and only it takes them")
    if not raw.get("purpose") or not raw.get("why") or not raw.get("regions"):
        raise PolicyError(f"store {name!r}: purpose, why and regions are required")
    text = {key: _text(name, raw, key) for key in ("purpose", "why", "aggregate_into", "database", "table")}
    return StorePolicy(name=name, kind=kind, time=time, retention_days=days, action=action,
                       regions=_regions(f"store {name!r}", raw["regions"]), **text)


def load_policy(path: Path = POLICY_PATH) -> Policy:
    """Read and check a policy file (default: the repository's).

    Raises:
        PolicyError: the file is missing, not TOML, a store's rule is incomplete, has a key the
            pipeline does not know or a value of the wrong type (``retention_days = true``,
            ``regions = "eu"``), ``[fields]`` names a field no decision's contract has
            (:data:`commons.contracts.CONTRACTS`), or an unkeyed entry gives no reason.
    """
    try:
        # utf-8-sig: an editor's byte-order mark is no TOML error.
        raw = tomllib.loads(Path(path).read_text(encoding="utf-8-sig"))
    except (OSError, ValueError, RecursionError) as err:  # TOMLDecodeError and UnicodeDecodeError are ValueErrors
        raise PolicyError(f"cannot read privacy policy {path}: {err}") from None
    unknown = sorted(set(raw) - TOP_KEYS)
    if unknown:
        raise PolicyError(f"unknown key(s) {', '.join(unknown)} in the privacy policy; "
                          f"known: {', '.join(sorted(TOP_KEYS))}")
    stores = {name: _store(name, body) for name, body in _table(raw, "stores").items()}
    for store in stores.values():
        if store.aggregate_into is not None and store.aggregate_into not in stores:
            raise PolicyError(f"store {store.name!r}: aggregate_into names no store of the policy "
                              f"({store.aggregate_into!r})")
    fields = {name: _regions(f"field {name!r}", regions) for name, regions in _table(raw, "fields").items()}
    contract_fields = {name for contract in CONTRACTS.values() for name in contract["fields"]}
    unknown_fields = sorted(set(fields) - contract_fields)
    if unknown_fields:  # a misspelt field leaves the real one refused in every region
        raise PolicyError(f"[fields] names {', '.join(unknown_fields)}, which no decision's contract has; "
                          f"contract fields: {', '.join(sorted(contract_fields))}")
    unkeyed = _table(raw, "unkeyed")
    if not all(isinstance(why, str) and why.strip() for why in unkeyed.values()):
        raise PolicyError("every [unkeyed] entry of the state folder needs its reason as text")
    version, central = raw.get("version", 1), raw.get("central_region")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise PolicyError(f"the policy's version must be a whole number from 1, got {version!r}")
    if not isinstance(central, str) or not REGION.fullmatch(central):
        raise PolicyError(f"the policy needs central_region, a region name such as \"eu\", got {central!r}")
    return Policy(version=version, central_region=central, stores=stores, fields=fields, unkeyed=dict(unkeyed))


def _table(raw: dict[str, Any], key: str) -> dict[str, Any]:
    value = raw.get(key, {})
    if not isinstance(value, dict):
        raise PolicyError(f"[{key}] must be a table, got {value!r}")
    return value
