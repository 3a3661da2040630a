"""``edge-insights revoke``, ``revoke-key``, ``revoke-refresh`` and ``release-keys``: withdraw a model
version or a signing key everywhere, keep the published list from going stale, and find the key
id to withdraw.

``revoke VERSION --decision D --reason R`` publishes the next revocation list
(:mod:`commons.revocation_list`) with the version's bundle sha256 — running pods leave the bundle
within a poll or two (:mod:`serving.hot_swap`) — then tags the MLflow version (``revoked``,
``revoked_reason``, ``revoked_at``), moves ``champion`` back to the newest earlier version that
passed the gate and that neither a tag nor the list revokes (and deploys it, so a pod started later
serves it too), or removes the alias when there is none, removes ``challenger`` from the version,
and records a ``revoke`` event in the control audit log. Revoking a version the list already
withdraws publishes nothing new.

``revoke-key KID`` withdraws a token-issuing key (pods refuse the tokens it signed) or a release
key (pods leave, and refuse, every bundle it signed; a champion it signed moves back as above). A
release key's id is the sha256 of its public key (:func:`commons.bundle_signature.key_id`):
``release-keys`` lists the trusted ones and the deployed bundles each signed; a pod's ``/healthz``
and a version's ``release_signed_by`` tag name it too. A key id is at most 128 letters, digits or
``._:-`` (:func:`commons.revocation_list.check_kid`).
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import typer

from commons.bundle_signature import SIGNATURE_NAME, BundleRefused, signature_key_id, trusted_keys
from commons.control_audit import ControlAudit
from commons.errors import BundleError, EdgeInsightsError
from commons.manifest import load_manifest
from commons.revocation_list import (
    RevocationList,
    RevocationListError,
    check_kid,
    check_reason,
    default_list_path,
    publish_next,
    read_published,
    refresh_list,
)
from commons.settings import Settings
from commons.token_keys import TokenKeyError, current_key, jwks_path
from commons.token_keys import trusted_keys as token_keys
from commons.tokens import parse_ttl


VERSION_PATTERN = re.compile(r"[1-9][0-9]*")
"""A registered model version as MLflow numbers them."""


class RevokeError(EdgeInsightsError):
    """A version that cannot be revoked: unknown, or without the bundle identity it was registered with."""


def revoke_version(client, settings: Settings, model_name: str, version: str, reason: str, *,
                   audit: ControlAudit, max_age_s: int) -> dict[str, Any]:
    """Revoke one registered version of ``model_name`` (see the module docstring).

    Args:
        client: an ``mlflow.MlflowClient`` on the registry.
        settings: the state folder (deploy folder, token keys, revocation list).
        model_name: the registered model (the decision's name).
        version: the version to revoke.
        reason: why, for people; stored in the tag, the list and the audit log.
        audit: the control audit log.
        max_age_s: seconds until the published list is stale.

    Returns:
        ``{"model", "version", "bundle_sha256", "serial", "champion", "already", "challenger_removed"}``:
        the champion's version afterwards (None when none is left); ``already`` when the published
        list withdrew the bundle before (no new serial; the first revocation's reason and time are
        kept, and a champion still on the version moves back all the same); ``challenger_removed``
        when the ``challenger`` alias was on the version and is gone (no other version takes it).

    Raises:
        RevokeError: ``version`` is not written as MLflow numbers versions, does not exist, or has
            no ``bundle_sha256`` tag.
        RevocationListError: the published list does not verify or cannot grow (nothing changed);
            TokenKeyError: no token signing key.
    """
    from mlflow.exceptions import MlflowException

    from training.registry import CHALLENGER, CHAMPION, aliases, champion_version

    if not VERSION_PATTERN.fullmatch(version):
        # MLflow reads "01", "+1" or "١" as version 1; compared as text they would miss the champion.
        raise RevokeError(f"{version!r} is no version number: write it as MLflow shows it (1, 2, …)")
    try:
        found = client.get_model_version(model_name, version)
    except MlflowException:
        raise RevokeError(f"{model_name} has no version {version!r}") from None
    sha = found.tags.get("bundle_sha256")
    if not sha:
        raise RevokeError(f"{model_name} version {version} has no bundle_sha256 tag: nothing to revoke on pods")
    list_path, jwks = default_list_path(settings.state_dir), jwks_path(settings.tokens_dir)
    try:
        published = read_published(list_path, jwks)
    except RevocationListError as err:
        raise RevocationListError(f"the published list {list_path} does not verify ({err}); nothing revoked",
                                  "unreadable") from None
    already = published is not None and sha in published.revoked_bundles
    now = datetime.now(timezone.utc)
    if not already:
        # Published first: a list that cannot be continued leaves the registry untouched, and pods
        # leave the bundle without waiting for the alias to move or a redeploy.
        published = publish_next(list_path, current_key(settings.tokens_dir), jwks, max_age_s=max_age_s, bundles=[{
            "sha256": sha, "reason": reason, "model": model_name, "version": version}])
    if found.tags.get("revoked") != "true":  # a second revoke keeps the first one's reason and time
        for tag, value in (("revoked", "true"), ("revoked_reason", reason), ("revoked_at", now.isoformat())):
            client.set_model_version_tag(model_name, version, tag, value)
    champion = champion_version(client, model_name)
    alias = None
    if champion is not None and str(champion.version) == version:
        alias = CHAMPION
        fallback = fall_back(client, settings, model_name, version, published, audit=audit)
        champion = client.get_model_version(model_name, fallback) if fallback else None
    # A revoked challenger is nothing to promote: left aliased, the registry UI would offer it.
    challenger_removed = str(aliases(client, model_name).get(CHALLENGER)) == version
    if challenger_removed:
        client.delete_registered_model_alias(model_name, CHALLENGER)
    if not already or alias is not None or challenger_removed:
        audit.record("revoke", model=model_name, version=version, alias=alias, bundle_sha256=sha, now=now,
                     reason=reason, serial=published.serial, champion=str(champion.version) if champion else None,
                     **({"challenger_removed": True} if challenger_removed else {}))
    return {"model": model_name, "version": version, "bundle_sha256": sha, "serial": published.serial,
            "champion": str(champion.version) if champion else None, "already": already,
            "challenger_removed": challenger_removed}


def fall_back(client, settings: Settings, model_name: str, version: str, revocations: RevocationList, *,
              audit: ControlAudit) -> str | None:
    """Move ``champion`` of ``model_name`` from ``version`` to :func:`previous_champion` and deploy
    it, or remove the alias when there is none; returns the new champion's version or None."""
    from training.registry import CHAMPION, deploy_champion

    fallback = previous_champion(client, model_name, version, revocations)
    if fallback is None:
        client.delete_registered_model_alias(model_name, CHAMPION)
    else:
        client.set_registered_model_alias(model_name, CHAMPION, fallback)
        deploy_champion(client, model_name, settings.deploy_dir, audit=audit)
    return fallback


def champions_signed_by(client, settings: Settings, kid: str, revocations: RevocationList, *,
                        audit: ControlAudit) -> dict[str, str | None]:
    """Move back every decision's champion whose ``release_signed_by`` tag is ``kid`` (see
    :func:`fall_back`); returns decision → its champion's version afterwards (None: none left)."""
    from training.decisions import DECISIONS
    from training.registry import champion_version

    moved = {}
    for name in DECISIONS:
        champion = champion_version(client, name)
        if champion is not None and champion.tags.get("release_signed_by") == kid:
            moved[name] = fall_back(client, settings, name, str(champion.version), revocations, audit=audit)
    return moved


def previous_champion(client, model_name: str, version: str, revocations: RevocationList) -> str | None:
    """The newest version older than ``version`` that passed the gate (its ``promotion`` tag says
    ``promoted``), is not tagged revoked and that ``revocations`` spares (neither its bundle's
    sha256 nor its ``release_signed_by`` key withdrawn), or None."""
    candidates = [v for v in client.search_model_versions(f"name='{model_name}'")
                  if int(v.version) < int(version) and v.tags.get("promotion", "").startswith("promoted")
                  and v.tags.get("revoked") != "true"
                  and revocations.withdrawal(v.tags.get("bundle_sha256", ""), v.tags.get("release_signed_by")) is None]
    return str(max(candidates, key=lambda v: int(v.version)).version) if candidates else None


def revoke(version: str = typer.Argument(..., help="the registered model version to withdraw"),
           decision: str = typer.Option(..., help="the decision (its registered model)"),
           reason: str = typer.Option(..., help="why, recorded in the registry, the list and the audit log"),
           max_age: str = typer.Option("1d", help="how long the published list stays valid (5m, 2h, 1d)")) -> None:
    """Withdraw a model version from every pod: tag it revoked in MLflow, publish the next signed
    revocation list, move champion back to the previous good version (deployed) and record it."""
    from mlflow import MlflowClient

    from commons.contracts import CONTRACTS
    from edge_insights.cli import _control_audit, _fail, _settings

    if decision not in CONTRACTS:
        raise typer.BadParameter(f"unknown decision {decision[:40]!r}; choose one of {', '.join(CONTRACTS)}",
                                 param_hint="'--decision'")
    _reason(reason)
    max_age_s = _lifetime(max_age)
    # Opening a missing registry would create it empty and answer "no version": checked before the
    # state folder's tree is made, so a mistyped or emptied state folder gets nothing written.
    registry = _settings().tracking_db
    if not registry.is_file():
        raise _fail(f"no MLflow registry at {registry}: no version to revoke (was it removed, or does "
                    "EDGE_INSIGHTS_STATE_DIR name another folder?); nothing was created")
    settings = _settings(ensure=True)
    client = MlflowClient(tracking_uri=settings.tracking_uri, registry_uri=settings.tracking_uri)
    try:
        done = revoke_version(client, settings, decision, version, reason, audit=_control_audit(settings),
                              max_age_s=max_age_s)
    except (RevokeError, RevocationListError, TokenKeyError) as err:
        raise _fail(str(err)) from None
    except OSError as err:  # published first: the registry is untouched
        raise _fail(f"{_unwritable(err)}; nothing revoked") from None
    challenger = "; challenger alias removed" if done["challenger_removed"] else ""
    if done["already"]:
        typer.echo(f"{done['model']} version {done['version']} was already revoked (bundle {done['bundle_sha256']}; "
                   f"revocation list serial {done['serial']}); champion now {done['champion'] or 'none'}{challenger}")
        return
    typer.echo(f"revoked {done['model']} version {done['version']} (bundle {done['bundle_sha256']}); "
               f"revocation list serial {done['serial']}; champion now {done['champion'] or 'none'}{challenger}")
    if done["champion"] is None:
        typer.echo(f"no good version is left: {settings.deploy_dir / decision / 'champion'} keeps the revoked bundle, "
                   "which pods refuse, so they route every request to the central model (503 without one) "
                   "until a version is promoted")


def key_kind(settings: Settings, kid: str) -> str:
    """What ``kid`` names here: ``release`` (a trusted release key: the bundles it signed),
    ``token`` (a key of the token JWKS: the tokens it signed) or ``unknown`` (in neither, e.g. a key
    already dropped from both; it is withdrawn all the same)."""
    if kid in trusted_keys(settings.trust_dir):
        return "release"
    try:
        return "token" if kid in token_keys(jwks_path(settings.tokens_dir)) else "unknown"
    except TokenKeyError:
        return "unknown"


KIND_EFFECT = {"release": "pods leave and refuse every bundle it signed",
               "token": "pods refuse the tokens it signed",
               "unknown": "neither a trusted release key nor a token key here; pods withdraw whatever it signed"}


def revoke_key(kid: str = typer.Argument(..., help="the key id to withdraw: a token key's kid, or a release "
                                              "key's id (see `edge-insights release-keys`)"),
               reason: str = typer.Option(..., help="why, recorded in the list and the audit log"),
               max_age: str = typer.Option("1d", help="how long the published list stays valid")) -> None:
    """Withdraw a signing key: pods refuse tokens it signed, or leave and refuse bundles it signed
    (a release key), from the next list they read; a champion it signed moves back to the previous
    good version (deployed), as ``revoke`` does."""
    from mlflow import MlflowClient

    from edge_insights.cli import _control_audit, _fail, _required_text, _settings

    kid, reason = _required_text(kid, "'KID'"), _reason(reason)
    try:
        check_kid(kid)
    except RevocationListError as err:
        raise typer.BadParameter(str(err), param_hint="'KID'") from None
    settings = _settings(ensure=True)
    try:
        if current_key(settings.tokens_dir).kid == kid:
            raise _fail(f"{kid} is the current signing key, which signs the list itself: run "
                        "`edge-insights token keygen --keep 1` first")
        kind = key_kind(settings, kid)
        published = publish_next(default_list_path(settings.state_dir), current_key(settings.tokens_dir),
                                 jwks_path(settings.tokens_dir), kids=[{"kid": kid, "reason": reason}],
                                 max_age_s=_lifetime(max_age))
    except (RevocationListError, TokenKeyError, BundleError) as err:
        raise _fail(str(err)) from None
    except OSError as err:
        raise _fail(f"{_unwritable(err)}; nothing revoked") from None
    audit = _control_audit(settings)
    moved = {}
    # A state folder with no registry yet has no champion to move (and gets no empty one).
    if kind != "token" and settings.tracking_db.is_file():
        client = MlflowClient(tracking_uri=settings.tracking_uri, registry_uri=settings.tracking_uri)
        moved = champions_signed_by(client, settings, kid, published, audit=audit)
    audit.record("revoke", kid=kid, key_kind=kind, reason=reason, serial=published.serial,
                 champions=moved)
    typer.echo(f"revoked {kind} key {kid} ({KIND_EFFECT[kind]}); revocation list serial {published.serial} "
               f"({default_list_path(settings.state_dir)})")
    for name, version in moved.items():
        typer.echo(f"{name}: champion signed by it, now {version or 'none'}")


def revoke_refresh(max_age: str = typer.Option("1d", help="how long the re-published list stays valid")) -> None:
    """Re-publish the revocation list with the next serial and nothing new, before it goes stale
    (Dagster's revocation_refresh_schedule does it every 6 hours): pods alarm on a list past its
    next update. Recorded in the control audit log."""
    from edge_insights.cli import _control_audit, _fail, _settings

    settings = _settings(ensure=True)
    try:
        published = refresh_list(default_list_path(settings.state_dir), settings.tokens_dir,
                                 max_age_s=_lifetime(max_age), audit=_control_audit(settings))
    except (RevocationListError, TokenKeyError) as err:
        raise _fail(str(err)) from None
    except OSError as err:
        raise _fail(_unwritable(err)) from None
    typer.echo(f"revocation list serial {published.serial} re-published: {len(published.bundles)} bundle(s), "
               f"{len(published.kids)} key(s) revoked")


def release_keys() -> None:
    """List the trusted release keys (the ids `revoke-key` takes), the deployed bundles whose
    signature names each, and whether the published revocation list withdraws it."""
    from edge_insights.cli import _fail, _settings

    settings = _settings(ensure=True)
    try:
        published = read_published(default_list_path(settings.state_dir), jwks_path(settings.tokens_dir))
    except RevocationListError as err:
        raise _fail(str(err)) from None
    revoked = published.revoked_kids if published else frozenset()
    withdrawn = published.revoked_bundles if published else frozenset()
    signed: dict[str, list[str]] = {}
    for signature in sorted(settings.deploy_dir.glob(f"*/*/{SIGNATURE_NAME}")):
        try:
            named = signature_key_id(signature)
        except BundleRefused:
            continue  # an unreadable signature names no key; the pod refuses that bundle anyway
        where = signature.parent.relative_to(settings.deploy_dir).as_posix()
        # A revoked bundle stays on disk (the pods refuse it and route to the central model).
        signed.setdefault(named, []).append(f"{where} (bundle revoked)" if _bundle_sha256(signature.parent)
                                            in withdrawn else where)
    try:
        keys = trusted_keys(settings.trust_dir)
    except BundleError as err:
        raise _fail(str(err)) from None
    if not keys:
        typer.echo(f"no trusted release keys in {settings.trust_dir}")
    for kid, path in keys.items():
        typer.echo(f"{kid}  {path.name}{'  REVOKED' if kid in revoked else ''}  "
                   f"deployed: {', '.join(signed.get(kid, [])) or 'none'}")


def _bundle_sha256(bundle_dir: Path) -> str | None:
    """The sealed manifest's ``bundle_sha256`` of ``bundle_dir``, or None when it cannot be read."""
    try:
        return load_manifest(bundle_dir).get("bundle_sha256")
    except BundleError:
        return None


def _unwritable(err: OSError) -> str:
    """One line for a revocation list that could not be read or written (its folder a file, say)."""
    return f"the revocation list cannot be published: {err.filename or ''}: {err.strerror or err}"


def _reason(text: str) -> str:
    from edge_insights.cli import _required_text

    try:
        return check_reason(_required_text(text, "'--reason'"))
    except RevocationListError as err:
        raise typer.BadParameter(str(err), param_hint="'--reason'") from None


def _lifetime(text: str) -> int:
    try:
        return parse_ttl(text)
    except ValueError as err:
        raise typer.BadParameter(str(err), param_hint="'--max-age'") from None
