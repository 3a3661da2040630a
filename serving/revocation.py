"""A pod's view of the control plane's revocation list: fetched, checked, obeyed or refused.

The list (:mod:`commons.revocation_list`) is read from a file (by default
``<state>/revocation/list.jwt``) or an ``http(s)`` URL every poll, and may also be pushed
(``POST /admin/revocation``). A list is obeyed only when it verifies against the pod's JWKS (the
one its tokens are checked with), is not stale and its serial is not below the last one accepted;
anything else is refused, counted in ``revocation_lists_refused_total{reason}`` and logged as an
alarm, and the pod keeps obeying the last list it accepted (a revocation is never undone by a
refused list). A document refused once is counted once, not on every poll that reads it again.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
from prometheus_client import CollectorRegistry, Counter, Gauge

from commons.revocation_list import MAX_LIST_BYTES, RevocationList, RevocationListError, verify_list

from .jwks_file import JwksFile

DEFAULT_POLL_S = 2.0
"""Seconds between two reads of the list (and of the deploy folder)."""
DEFAULT_KEEP_BUNDLES = 3
"""Verified bundles a pod keeps loaded to fall back on when the one it serves is revoked."""

logger = logging.getLogger(__name__)


class RolledBack(RevocationListError):
    """A list whose serial is below (or equal to, with other content) one already accepted."""

    http_status = 409


@dataclass(frozen=True)
class WatchSettings:
    """Where a pod reads the revocation list and how often it looks for changes.

    Attributes:
        list_source: a file path, or an ``http://``/``https://`` URL answering the list's JWS.
        jwks: the JWKS the list must be signed by a key of (the token JWKS: one trust root).
        poll_s: seconds between two reads of the list and of the deploy folder (> 0).
        keep_bundles: verified bundles held in memory to fall back on (≥ 1, the served one included).
    """

    list_source: str
    jwks: Path
    poll_s: float = DEFAULT_POLL_S
    keep_bundles: int = DEFAULT_KEEP_BUNDLES

    def __post_init__(self) -> None:
        if self.poll_s <= 0 or self.keep_bundles < 1:
            raise ValueError(f"poll_s must be positive and keep_bundles at least 1, got {self.poll_s} and "
                             f"{self.keep_bundles}")


class RevocationWatch:
    """The last accepted revocation list of a pod, and the checks every new document goes through.

    Args:
        settings: where the list is and which JWKS signs it.
        registry: the pod's metrics registry (``revocation_lists_refused_total{reason}``,
            ``revocation_list_serial``).
    """

    def __init__(self, settings: WatchSettings, registry: CollectorRegistry) -> None:
        self.settings = settings
        self.accepted: RevocationList | None = None
        self._keys: JwksFile | None = None
        self._lock = threading.Lock()
        self._accepted_document: str | None = None
        self._refused_document: str | None = None
        self._stale_alarmed = False
        self._too_large_alarmed = False
        self._absent_noted = False
        self.refused = Counter("revocation_lists_refused", "Revocation lists refused, never obeyed.",
                               ["reason"], registry=registry)
        self.serial = Gauge("revocation_list_serial", "Serial of the revocation list obeyed (0: none yet).",
                            registry=registry)

    @property
    def revoked_bundles(self) -> frozenset[str]:
        """sha256 of every bundle the accepted list withdraws (empty before any list)."""
        return self.accepted.revoked_bundles if self.accepted else frozenset()

    @property
    def revoked_kids(self) -> frozenset[str]:
        """Every key id the accepted list withdraws (empty before any list)."""
        return self.accepted.revoked_kids if self.accepted else frozenset()

    def withdrawal(self, bundle_sha256: str, signed_by: str | None) -> str | None:
        """Why the accepted list withdraws a bundle (its sha256, or the release key that signed it),
        or None when it spares it or no list is accepted yet
        (:meth:`commons.revocation_list.RevocationList.withdrawal`)."""
        accepted = self.accepted
        return accepted.withdrawal(bundle_sha256, signed_by) if accepted else None

    def poll(self) -> None:
        """Read the list from its source and take it in; a refusal is counted and alarmed, not raised.
        Nothing published yet (no file, 404) is no alarm."""
        document = self._fetch()
        # A document refused once is alarmed once, not at every poll that reads it again.
        if document is None or document.strip() == self._refused_document:
            return
        try:
            self.offer(document)
        except RevocationListError:
            return

    def offer(self, document: str) -> RevocationList:
        """Check a list document and obey it when it passes.

        Args:
            document: the list's compact JWS (polled, or pushed to the admin endpoint).

        Returns:
            The list now obeyed (this one, or the same serial already accepted).

        Raises:
            RevocationListError: the list is refused (see :func:`commons.revocation_list.verify_list`),
                or :class:`RolledBack` (409) for a serial below the accepted one, or the accepted
                serial with other content.
        """
        document = document.strip()
        with self._lock:
            if document == self._accepted_document:
                self._alarm_if_stale()
                return self.accepted
            try:
                revocations = self._check(document)
            except RevocationListError as err:
                self._refused_document = document
                self.refused.labels(err.reason).inc()
                logger.error("ALARM: revocation list refused (%s): %s; still obeying serial %s", err.reason, err,
                             self.accepted.serial if self.accepted else "none")
                raise
            self.accepted, self._accepted_document, self._stale_alarmed = revocations, document, False
            self._too_large_alarmed = False
            self.serial.set(revocations.serial)
            logger.warning("revocation list serial %d obeyed: %d bundle(s), %d key(s) revoked", revocations.serial,
                           len(revocations.bundles), len(revocations.kids))
            return revocations

    def _check(self, document: str) -> RevocationList:
        keys = self._trusted()
        revocations = verify_list(document, keys.key if keys else (lambda kid: None))
        held = self.accepted
        if held is not None and revocations.serial <= held.serial:
            what = "reuses" if revocations.serial == held.serial else "is below"
            raise RolledBack(f"revocation list serial {revocations.serial} {what} serial {held.serial} already "
                             "obeyed: a rollback", "rolled_back" if what == "is below" else "serial_reused")
        return revocations

    def _trusted(self) -> JwksFile | None:
        """The JWKS, opened on first need (it may appear after the pod starts)."""
        if self._keys is None:
            try:
                self._keys = JwksFile(self.settings.jwks)
            except ValueError as err:
                logger.error("no trusted keys for revocation lists: %s", err)
        return self._keys

    def _alarm_if_stale(self) -> None:
        if self.accepted and self.accepted.next_update <= time.time() and not self._stale_alarmed:
            self._stale_alarmed = True
            self.refused.labels("stale").inc()
            logger.error("ALARM: revocation list serial %d is past its next update and was not re-published; "
                         "still obeying it", self.accepted.serial)

    def _fetch(self) -> str | None:
        """The list's document, or None: nothing published, unreachable, unreadable, or larger than
        :data:`MAX_LIST_BYTES` (counted as refused ``too_large`` and alarmed once)."""
        source = self.settings.list_source
        if source.startswith(("http://", "https://")):
            try:
                with httpx.stream("GET", source, timeout=max(self.settings.poll_s, 1.0)) as reply:
                    if reply.status_code == 404:
                        return None
                    if reply.status_code != 200:
                        logger.error("revocation list at %s answered HTTP %d", source, reply.status_code)
                        return None
                    body = bytearray()
                    for chunk in reply.iter_bytes():
                        body += chunk
                        if len(body) > MAX_LIST_BYTES:
                            return self._too_large(source)
                    return body.decode(reply.encoding or "utf-8", errors="replace")
            except httpx.HTTPError as err:
                logger.error("revocation list at %s unreachable: %s", source, type(err).__name__)
                return None
        try:
            if Path(source).stat().st_size > MAX_LIST_BYTES:
                return self._too_large(source)
            return Path(source).read_text(encoding="ascii")
        except FileNotFoundError:
            if not self._absent_noted:
                # Normal before the first revocation, but a mistyped --revocation-list looks the same.
                self._absent_noted = True
                logger.warning("no revocation list at %s yet%s: nothing is revoked until one is published there",
                               source, "" if Path(source).parent.is_dir() else " (nor its folder)")
            return None
        except (OSError, UnicodeDecodeError) as err:
            logger.error("revocation list %s unreadable: %s", source, err)
            return None

    def _too_large(self, source: str) -> None:
        if not self._too_large_alarmed:
            self._too_large_alarmed = True
            self.refused.labels("too_large").inc()
            logger.error("ALARM: revocation list %s is larger than %d bytes, not read; still obeying serial %s",
                         source, MAX_LIST_BYTES, self.accepted.serial if self.accepted else "none")
        return None
