"""The clients allowed to fetch tokens with a client secret: who they are and what they may ask for.

A client (an edge pod, the live watcher, ``evaluate`` on another machine) holds a ``client_id`` and a
random secret; the token endpoint (:mod:`edge_insights.token_endpoint`, the OAuth 2.0
client-credentials grant of RFC 6749 §4.4) trades them for a short-lived token
(:func:`commons.tokens.issue_token`) for one of the client's audiences and scopes.

The registry is one JSON file, ``<state>/tokens/clients.json`` (mode 0600), holding per client its
audiences, scopes and the secret's scrypt hash (RFC 7914, with a random salt), never the secret:
a copy of the file does not let anyone fetch a token. :func:`register_client` prints the secret
once; registering the same id again replaces the secret (the old one stops working). Registrations
hold an exclusive lock on ``clients.json.lock`` while they read, change and rename the file, so two
processes registering at once (two edge pods starting, two test workers) both keep their client.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from .errors import EdgeInsightsError
from .file_lock import exclusive_lock
from .tokens import SCOPES

T = TypeVar("T")
CLIENTS_NAME = "clients.json"
LOCK_NAME = "clients.json.lock"
# scrypt cost (RFC 7914 §2): N = 2^14, r = 8, p = 1 takes ~30 ms and 16 MiB; secrets are 256-bit
# random strings, so the cost guards a stolen file against nothing weaker than brute force anyway.
_SCRYPT = {"n": 2 ** 14, "r": 8, "p": 1}


class ClientRegistryError(EdgeInsightsError):
    """The clients file cannot be read or written, or a registration asks for something invalid."""


@dataclass(frozen=True)
class Client:
    """One registered client.

    Attributes:
        client_id: its id (the token's ``sub``).
        audiences: the ``aud`` values it may get tokens for (decisions or pod ids).
        scopes: the scopes it may be granted (of :data:`commons.tokens.SCOPES`).
    """

    client_id: str
    audiences: tuple[str, ...]
    scopes: tuple[str, ...]


def clients_path(tokens_dir: Path) -> Path:
    """Where the client registry of ``tokens_dir`` lives."""
    return Path(tokens_dir) / CLIENTS_NAME


def _hash(secret: str, salt: bytes) -> str:
    digest = hashlib.scrypt(secret.encode("utf-8"), salt=salt, **_SCRYPT)
    return base64.b64encode(digest).decode("ascii")


def _read(path: Path) -> dict[str, dict]:
    if not path.is_file():
        return {}
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        return dict(document["clients"])
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise ClientRegistryError(f"{path} is not a readable client registry: {err}") from None


def register_client(tokens_dir: Path, client_id: str, audiences: list[str] | tuple[str, ...],
                    scopes: list[str] | tuple[str, ...]) -> str:
    """Register (or re-register) a client and return its new secret, shown this once.

    Args:
        tokens_dir: the token folder (``Settings.tokens_dir``).
        client_id: letters, digits, ``-``, ``_``, ``.``; 1-64 characters.
        audiences: the audiences it may ask for (at least one).
        scopes: the scopes it may ask for, each of :data:`commons.tokens.SCOPES`.

    Returns:
        The secret: 43 base64url characters (256 random bits).

    Raises:
        ClientRegistryError: a bad id, no audience, an unknown scope, or an unreadable registry.
    """
    if not (0 < len(client_id) <= 64 and all(c.isalnum() or c in "-_." for c in client_id)):
        raise ClientRegistryError(f"a client id is 1-64 letters, digits, '-', '_' or '.', got {client_id!r}")
    audiences = [a for a in dict.fromkeys(audiences) if a.strip()]
    unknown = sorted(set(scopes) - set(SCOPES))
    if not audiences or not scopes or unknown:
        raise ClientRegistryError(f"a client needs at least one audience and scopes among {', '.join(SCOPES)}, "
                                  f"got audiences {audiences!r} and scopes {list(scopes)!r}")
    secret = secrets.token_urlsafe(32)
    salt = os.urandom(16)
    entry = {"audiences": audiences, "scopes": list(dict.fromkeys(scopes)),
             "salt": base64.b64encode(salt).decode("ascii"), "secret_scrypt": _hash(secret, salt),
             "registered_at": int(time.time())}
    _update(clients_path(tokens_dir), lambda clients: clients.__setitem__(client_id, entry))
    return secret


def unregister_client(tokens_dir: Path, client_id: str) -> bool:
    """Remove a client (its secret stops working at once); returns whether it was registered.

    Raises:
        ClientRegistryError: the registry cannot be read.
    """
    return _update(clients_path(tokens_dir), lambda clients: clients.pop(client_id, None)) is not None


def _update(path: Path, change: Callable[[dict[str, dict]], T]) -> T:
    """Apply ``change`` to the registry's clients under an exclusive lock; returns what it returns."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    with exclusive_lock(path.with_name(LOCK_NAME)):
        clients = _read(path)
        result = change(clients)
        # Written beside the file and renamed over it: the endpoint reading it sees the old or new registry.
        partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump({"clients": clients}, out, indent=2)
        os.replace(partial, path)
    return result


def authenticate(tokens_dir: Path, client_id: str, secret: str) -> Client | None:
    """The client whose id and secret these are, or None (unknown id or wrong secret).

    The hash comparison is constant-time; an unknown id costs the same scrypt as a known one, so
    timing does not tell which ids exist.

    Raises:
        ClientRegistryError: the registry cannot be read.
    """
    entry = _read(clients_path(tokens_dir)).get(client_id)
    salt = base64.b64decode(entry["salt"]) if entry else b"\0" * 16
    presented = _hash(secret, salt)
    if entry is None or not hmac.compare_digest(presented, entry["secret_scrypt"]):
        return None
    return Client(client_id, tuple(entry["audiences"]), tuple(entry["scopes"]))
