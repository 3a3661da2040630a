"""Following the registry's ``champion`` alias to the pods' deploy folder.

Moving ``champion`` in the MLflow UI (or with ``MlflowClient``) changes the registry only; pods read
the deploy folder. :func:`follow_champion` compares the alias with the deployed release
(``release.json`` in ``<deploy>/<model>/champion``) and, when they differ, deploys the alias's
version through :func:`training.registry.deploy_champion` — the ``deployed_bundle`` asset's code
path, ``deploy`` events in the control audit log included — but only when the version is not
tagged revoked, its edge and central bundles verify under the trusted release keys
(:func:`commons.bundle_signature.verify_bundle`), both are bundles of this model (a version
registered under another decision's name would stop every new pod from starting), and the
revocation list withdraws neither (their sha256 or the release key that signed them). A refused
alias is never deployed: pods keep what they serve. An alias on the version already deployed is
checked too, against the tag and the list only (no download every tick): put back on a revoked
version, it is reported as refused, not as current.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path

from mlflow import MlflowClient

from commons.bundle_signature import SIGNATURE_NAME, BundleRefused, signature_key_id, verify_bundle
from commons.control_audit import ControlAudit
from commons.errors import BundleError
from commons.manifest import load_manifest
from commons.revocation_list import RevocationList
from training.registry import CHAMPION, RELEASE_FILE, champion_version, deploy_champion

ARTIFACTS = ("bundle", "central_bundle")
"""The run artifacts a champion deploys: its edge bundle and the central bundle it was distilled from."""


@dataclass(frozen=True)
class Followed:
    """What following the alias did for one registered model.

    Attributes:
        outcome: ``deployed``, ``current`` (the alias's version is the deployed one),
            ``no_champion`` or ``refused``.
        version: the version ``champion`` names (None without one).
        reason: one line for people (why refused, what was deployed).
    """

    outcome: str
    version: str | None
    reason: str


def deployed_version(deploy_root: Path, model_name: str) -> str | None:
    """The model version ``release.json`` of the deployed champion names, or None when nothing
    readable is deployed."""
    try:
        return str(json.loads((deploy_root / model_name / CHAMPION / RELEASE_FILE).read_text())["model_version"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def refusal(client: MlflowClient, version, *, trust_dir: Path,
            revocations: RevocationList | None) -> str | None:
    """Why ``version`` (an MLflow ``ModelVersion``) must not reach the pods, or None.

    Its edge and central bundles are downloaded to a temporary folder and verified as a pod
    verifies them (signature under a key of ``trust_dir``, every file hash, ``not_after``, the
    manifest's ``model_name`` or ``decision`` naming the registered model), then looked up in
    ``revocations`` (None: no list published).

    Raises:
        MlflowException: an artifact cannot be downloaded.
    """
    if version.tags.get("revoked") == "true":
        return f"version {version.version} is tagged revoked ({version.tags.get('revoked_reason', 'no reason')})"
    with tempfile.TemporaryDirectory() as tmp:
        for artifact in ARTIFACTS:
            local = Path(client.download_artifacts(version.run_id, artifact, tmp))
            try:
                verified = verify_bundle(local, trust_dir)
            except BundleError as err:
                return f"version {version.version}'s {artifact} does not verify: {err}"
            manifest = load_manifest(local)
            if version.name not in {manifest.get("model_name"), manifest.get("decision")}:
                return (f"version {version.version}'s {artifact} decides {manifest.get('decision')!r}, "
                        f"not {version.name!r}")
            why = revocations.withdrawal(verified["bundle_sha256"], verified["signed_by"]) if revocations else None
            if why:
                return f"version {version.version}'s {artifact} is withdrawn by revocation list serial " \
                       f"{revocations.serial}: {why}"
    return None


def follow_champion(client: MlflowClient, model_name: str, deploy_root: Path, *, trust_dir: Path,
                    revocations: RevocationList | None, audit: ControlAudit | None) -> Followed:
    """Deploy ``model_name``'s ``champion`` when it names a version other than the deployed one
    and that version may serve (see the module docstring).

    Args:
        client: the MLflow registry.
        model_name: the registered model (the decision's name).
        deploy_root: the pods' deploy folder (``<state>/deploy``).
        trust_dir: the release public keys pods verify bundles with.
        revocations: the published revocation list, None when none is published.
        audit: the control audit log ``deploy`` events go to (None: not recorded).

    Returns:
        What was done (:class:`Followed`).

    Raises:
        MlflowException: the registry or an artifact cannot be read.
        OSError: the deploy folder or the audit log cannot be written.
    """
    champion = champion_version(client, model_name)
    if champion is None:
        return Followed("no_champion", None, f"{model_name} has no {CHAMPION} alias")
    version = str(champion.version)
    if deployed_version(deploy_root, model_name) == version:
        why = _withdrawn(champion, deploy_root / model_name / CHAMPION, revocations)
        if why:
            return Followed("refused", version, f"{CHAMPION} is version {version}, deployed but withdrawn: {why}")
        return Followed("current", version, f"{CHAMPION} is version {version}, deployed")
    why = refusal(client, champion, trust_dir=trust_dir, revocations=revocations)
    if why:
        return Followed("refused", version, f"{CHAMPION} moved to version {version}, NOT deployed: {why}")
    deployed = deploy_champion(client, model_name, deploy_root, audit=audit)
    return Followed("deployed", str(deployed["model_version"]),
                    f"{CHAMPION} moved to version {deployed['model_version']}: deployed to {deployed['edge_dir']}")


def _withdrawn(version, deployed: Path, revocations: RevocationList | None) -> str | None:
    """Why the deployed ``version`` is withdrawn (its revoked tag, or the list naming the deployed
    edge bundle's sha256 or release key), or None."""
    if version.tags.get("revoked") == "true":
        return f"version {version.version} is tagged revoked ({version.tags.get('revoked_reason', 'no reason')})"
    if revocations is None:
        return None
    try:
        sha, signer = load_manifest(deployed)["bundle_sha256"], signature_key_id(deployed / SIGNATURE_NAME)
    except (BundleError, BundleRefused, KeyError, OSError, ValueError):
        return None  # pods refuse an unreadable deployment themselves; this check only reports
    why = revocations.withdrawal(sha, signer)
    return f"revocation list serial {revocations.serial}: {why}" if why else None
