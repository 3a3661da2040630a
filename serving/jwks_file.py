"""The JWK Set a pod verifies tokens with, re-read whenever its file changes.

A key rotation (``edge-insights token keygen``) rewrites the file; the next request sees the new
set without a restart. The file is checked with one ``stat`` per lookup (microseconds), and read
again only when its modification time, size or inode changed. A file that turns unreadable or
invalid after start keeps the last good set in force, logged as an error: a half-copied file must
not lock every client out, and keys are withdrawn by publishing a set without them.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from pathlib import Path

from jwt import PyJWK, PyJWKSet
from jwt.exceptions import PyJWKError, PyJWKSetError

logger = logging.getLogger(__name__)


class JwksFile:
    """The keys of a JWKS file (RFC 7517 §5), by ``kid``.

    Args:
        path: the JWKS file, e.g. ``<state>/tokens/jwks.json``.

    Raises:
        ValueError: at construction, the file cannot be read, is not a JWK Set, or holds no
            usable key, or a key lacks its ``kid`` — the pod must not start without keys.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._stamp = self._stat()
        self._keys = self._read()
        self.reloads = 0
        """How many times a changed file was read again (successfully) since start."""

    def _stat(self) -> tuple[int, int, int] | None:
        try:
            info = os.stat(self.path)
        except OSError:
            return None
        return info.st_mtime_ns, info.st_size, info.st_ino

    def _read(self) -> dict[str, PyJWK]:
        try:
            document = json.loads(self.path.read_text(encoding="utf-8"))
            keys = PyJWKSet.from_dict(document).keys
        except (OSError, ValueError, PyJWKError, PyJWKSetError, AttributeError, TypeError) as err:
            raise ValueError(f"JWKS {self.path} is not a readable JWK Set: {err}") from None
        unnamed = [k for k in keys if not k.key_id]
        if unnamed:
            raise ValueError(f"JWKS {self.path}: every key needs a kid ({len(unnamed)} without)")
        return {k.key_id: k for k in keys}

    def key(self, kid: str) -> PyJWK | None:
        """The key named ``kid`` in the file as it is now, None when the set has no such key."""
        stamp = self._stat()
        if stamp != self._stamp:
            with self._lock:
                if stamp != self._stamp:
                    self._reload(stamp)
        return self._keys.get(kid)

    def _reload(self, stamp: tuple[int, int, int] | None) -> None:
        # The stamp is taken even when reading fails, so a broken file is logged once, not per request.
        self._stamp = stamp
        try:
            self._keys = self._read()
        except ValueError as err:
            logger.error("%s; still verifying with the %d keys read before", err, len(self._keys))
            return
        self.reloads += 1
        logger.warning("JWKS %s reloaded: key ids %s", self.path, ", ".join(sorted(self._keys)))

    @property
    def kids(self) -> list[str]:
        """The key ids currently in force, sorted."""
        return sorted(self._keys)
