"""The bundle a pod serves, swapped live: new deployments in, revoked bundles out, no restart.

A pod holds up to ``keep`` verified bundles (:class:`Served`: the model, its router, its release),
newest first, and serves one of them (:attr:`LiveBundle.current`). A request reads ``current``
once, when it starts, and keeps that object to its end; a swap only rebinds the attribute (one
reference assignment, atomic in CPython), so in-flight requests finish on the bundle they began
with and none fails because of a swap.

Two things move ``current``, both checked every poll by :class:`Poller`:

- **a new deployment**: the deploy folder, its ``manifest.json`` or its ``release.json`` changed
  (a new inode, modification time or size; the pipeline replaces the folder by a rename). The folder is opened
  through :func:`serving.app.load_model` (:func:`serving.bundle_model.open_bundle`: every file
  hash, and whatever else that verifies) and must be a bundle of the same decision and role that
  the revocation list does not withdraw; then it is held and served. A bundle that fails is
  refused (``bundle_swaps_refused_total{reason}``: ``unverified``, ``revoked``, or ``residency`` when its
  contract requires a field the pod's region may not hold) and the pod keeps what it serves.
- **a revocation**: when the accepted list withdraws the served bundle — its sha256 is listed, or
  the release key its signature verified under is among the list's ``kids`` — the pod moves to
  the newest held bundle the list spares, or, holding none, to central-only routing (every
  record to the central pod; 503 when the pod has no central).

What the list withdraws is asked through a :data:`Withdrawal` (the pod's
:meth:`serving.revocation.RevocationWatch.withdrawal`).

``bundle_swaps_total{cause}`` counts swaps (``deployed``, ``revoked``); ``central_only`` is 1
while the pod has no bundle of its own to answer with.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge

from commons.errors import ServingError
from commons.manifest import MANIFEST_NAME, BundleError
from commons.residency import RegionCannotServe
from commons.traffic import PRODUCTION

from .bundle_model import BundleModel
from .revocation import RevocationWatch
from .router import CentralError, Routed, Router

RELEASE_FILE = "release.json"
RETIRE_AFTER_S = 30.0
"""Seconds a bundle dropped from the held set keeps its central connections open for requests
that still use it (requests last milliseconds; the central timeout is about a second)."""

Withdrawal = Callable[[str, str | None], str | None]
"""``(bundle_sha256, signed_by) -> why the revocation list withdraws that bundle, or None``."""

logger = logging.getLogger(__name__)


class NoBundle(ServingError):
    """The pod's bundle is revoked, it holds no other, and central cannot answer in its place."""

    http_status = 503


@dataclass(frozen=True, eq=False)
class Served:
    """One verified bundle as a pod serves it.

    Attributes:
        model: the opened bundle.
        router: routes its decisions (and holds the connection to the central pod).
        release: its ``release.json``.
        central_only: the bundle is revoked: its contract still checks records, but every record
            goes to central and the model itself is never asked.
    """

    model: BundleModel
    router: Router
    release: dict[str, Any]
    central_only: bool = False

    @property
    def bundle_sha256(self) -> str | None:
        """The answering bundle's identity; None in central-only routing."""
        return None if self.central_only else self.model.bundle_sha256

    def withdrawn(self, withdrawal: Withdrawal) -> str | None:
        """Why ``withdrawal`` withdraws this bundle (its sha256 or its release key), or None."""
        return withdrawal(self.model.bundle_sha256, self.model.signed_by)

    @property
    def contract(self) -> dict[str, Any]:
        """The feature contract records are checked against."""
        return self.model.manifest["feature_contract"]

    def decide(self, records: list[dict[str, Any]], traffic: str = PRODUCTION) -> list[Routed]:
        """Decide a checked batch with this bundle, or through central in central-only routing;
        ``traffic`` is the request's class (:mod:`commons.traffic`), passed on to central.

        Raises:
            NoBundle: central-only routing and central cannot answer.
        """
        if not self.central_only:
            return self.router.decide(records, traffic)
        try:
            return self.router.decide_centrally(records, traffic)
        except CentralError as err:
            raise NoBundle(f"this pod's bundle is revoked and it holds no other; {err}") from None


def folder_stamp(deploy_dir: Path) -> tuple[int, ...] | None:
    """Inode of the folder, and inode, modification time and size of its manifest and release
    file; None while one is missing (e.g. between the old folder's removal and the new one's
    rename)."""
    try:
        stamp: tuple[int, ...] = (os.stat(deploy_dir).st_ino,)
        for name in (MANIFEST_NAME, RELEASE_FILE):
            info = os.stat(Path(deploy_dir) / name)
            stamp += (info.st_ino, info.st_mtime_ns, info.st_size)
    except OSError:
        return None
    return stamp


class LiveBundle:
    """The served bundle, the held ones, and the moves between them.

    Args:
        first: the bundle the pod started with (already verified).
        open_served: opens a deploy folder as a :class:`Served` (verifying it), raising
            :class:`commons.manifest.BundleError` (or ``ValueError`` for a manifest the router
            cannot use) when it must not serve.
        deploy_dir: the folder watched for new deployments.
        keep: bundles held, the served one included (≥ 1).
        registry: the pod's metrics registry.
    """

    def __init__(self, first: Served, *, open_served: Callable[[Path], Served], deploy_dir: Path, keep: int,
                 registry: CollectorRegistry) -> None:
        self.current = first
        self.held: list[Served] = [first]
        self.deploy_dir = Path(deploy_dir)
        self.keep = keep
        self._open = open_served
        self._stamp = folder_stamp(deploy_dir)
        self._lock = threading.Lock()
        self.swaps = Counter("bundle_swaps", "Live swaps of the served bundle.", ["cause"], registry=registry)
        self.refused = Counter("bundle_swaps_refused", "Deployed bundles refused (the pod kept its own).",
                               ["reason"], registry=registry)
        self.central_only = Gauge("central_only", "1 while every record goes to central (bundle revoked).",
                                  registry=registry)

    def refresh_deploy(self, withdrawal: Withdrawal) -> None:
        """Open the deploy folder again when it changed and serve it when it verifies and the
        revocation list spares it (neither its sha256 nor its release key withdrawn)."""
        stamp = folder_stamp(self.deploy_dir)
        if stamp is None or stamp == self._stamp:
            return
        self._stamp = stamp
        try:
            served = self._open(self.deploy_dir)
            self._check_fits(served)
        except (BundleError, ValueError) as err:
            # A sound bundle this pod's region cannot serve is no forgery: an alarm on unverified stays about those.
            self.refused.labels("residency" if isinstance(err, RegionCannotServe) else "unverified").inc()
            logger.error("ALARM: newly deployed bundle in %s refused: %s; still serving %s", self.deploy_dir, err,
                         self.current.bundle_sha256)
            return
        sha = served.model.bundle_sha256
        why = served.withdrawn(withdrawal)
        if why:
            served.router.close()
            self.refused.labels("revoked").inc()
            logger.error("ALARM: newly deployed bundle %s refused: %s; not serving it", sha, why)
            return
        with self._lock:
            if not self.current.central_only and sha == self.current.model.bundle_sha256:
                served.router.close()
                return
            self._hold(served)
            self._swap(served, "deployed")

    def apply(self, withdrawal: Withdrawal) -> None:
        """Leave the served bundle when ``withdrawal`` withdraws it (its sha256 or its release key):
        the newest held bundle the list spares, else central-only routing. Withdrawn bundles are
        dropped from the held set."""
        with self._lock:
            current = self.current
            why = None if current.central_only else current.withdrawn(withdrawal)
            if why is None:
                return
            logger.warning("served bundle %s withdrawn: %s", current.bundle_sha256, why)
            kept = [s for s in self.held if s.withdrawn(withdrawal) is None]
            for dropped in self.held:
                if dropped not in kept and dropped is not current:
                    self._retire(dropped)
            self.held = kept
            if kept:
                self._swap(kept[0], "revoked")
                self._retire(current)
            else:
                # The revoked bundle's router stays open: central-only routing sends through it.
                self._swap(replace(current, central_only=True), "revoked")

    def _check_fits(self, served: Served) -> None:
        first = self.held[0] if self.held else self.current
        ours = (first.model.decision, first.model.manifest.get("role", "edge"))
        theirs = (served.model.decision, served.model.manifest.get("role", "edge"))
        if theirs != ours:
            served.router.close()
            raise BundleError(f"deployed bundle decides {theirs[0]!r} as {theirs[1]!r}; this pod serves "
                              f"{ours[0]!r} as {ours[1]!r}")

    def _hold(self, served: Served) -> None:
        # A version deployed again replaces its own older copy: the held set names each bundle once.
        again = [h for h in self.held if h.model.bundle_sha256 == served.model.bundle_sha256]
        for old in again:
            self.held.remove(old)
            if old is not self.current:
                self._retire(old)
        self.held.insert(0, served)
        for dropped in self.held[self.keep:]:
            if dropped is not self.current:
                self._retire(dropped)
        self.held = self.held[: self.keep]

    def _swap(self, served: Served, cause: str) -> None:
        before = self.current.bundle_sha256
        if self.current.central_only:
            self._retire(self.current)
        self.current = served
        self.swaps.labels(cause).inc()
        self.central_only.set(1 if served.central_only else 0)
        logger.warning("bundle swap (%s): %s → %s", cause, before,
                       served.bundle_sha256 or "central-only routing")

    @staticmethod
    def _retire(served: Served) -> None:
        # Closed later, not now: a request that took this bundle before the swap may still use it.
        timer = threading.Timer(RETIRE_AFTER_S, served.router.close)
        timer.daemon = True
        timer.start()


class Poller:
    """Every ``poll_s``: read the revocation list, look at the deploy folder, obey the list.

    The list is read first, so a bundle deployed after its own revocation is never served.

    Args:
        live: the pod's bundles.
        watch: the pod's revocation list.
        poll_s: seconds between two rounds.
    """

    def __init__(self, live: LiveBundle, watch: RevocationWatch, poll_s: float) -> None:
        self.live, self.watch, self.poll_s = live, watch, poll_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bundle-poller", daemon=True)

    def round(self) -> None:
        """One round: list, deploy folder, revocations."""
        self.watch.poll()
        self.live.refresh_deploy(self.watch.withdrawal)
        self.live.apply(self.watch.withdrawal)

    def start(self) -> None:
        """Run rounds in a background thread until :meth:`stop`."""
        self._thread.start()

    def stop(self) -> None:
        """Stop the rounds and wait for the one under way."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10.0)

    def _run(self) -> None:
        while not self._stop.wait(self.poll_s):
            try:
                self.round()
            except Exception:  # the poller must outlive any one bad round
                logger.exception("bundle poll round failed; next round in %.1f s", self.poll_s)
