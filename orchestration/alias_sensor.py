"""Champion alias sensor: pods follow the registry's ``champion`` alias, with no MLflow in a pod.

Every minute, per decision, :func:`training.champion_follow.follow_champion` compares the
registered model's ``champion`` alias with the deployed release and, when someone moved the alias
(the MLflow UI, ``MlflowClient``), deploys that version — verified under the trusted release keys
and spared by the published revocation list — into the deploy folder the pods poll, with the
``deployed_bundle`` asset's code path (``deploy`` events in the control audit log). The sensor
reports the deployment as a materialization of ``<decision>/deployed_bundle``; a refused alias is
logged as an error and named in the skip reason, and nothing is deployed.
"""

import dagster as dg

from commons.revocation_list import RevocationListError, read_published
from orchestration.resources import MlflowResource, RevocationResource, TrainingResource
from training.champion_follow import follow_champion
from training.decisions import DECISIONS


@dg.sensor(minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.RUNNING,
           description="Per decision: when the registry's champion alias names a version other than the deployed "
                       "one, deploys it to the pods' deploy folder if its bundles verify and the revocation list "
                       "spares them; refuses (logs) it otherwise.")
def champion_alias_sensor(context: dg.SensorEvaluationContext, mlflow: MlflowResource, training: TrainingResource,
                          revocation: RevocationResource) -> dg.SensorResult:
    try:
        revocations = read_published(revocation.list_file, revocation.jwks)
    except RevocationListError as err:
        # Deploying blind could put a revoked version back in front of pods started without a list.
        context.log.error(f"revocation list unreadable, nothing deployed: {err}")
        return dg.SensorResult(skip_reason=f"revocation list {revocation.list_file} does not verify: {err}")
    client, audit = mlflow.client(), training.audit()
    notes, deployed = [], []
    for name in DECISIONS:
        followed = follow_champion(client, name, training.deploy_dir_path, trust_dir=training.trust_dir_path,
                                   revocations=revocations, audit=audit)
        notes.append(f"{name}: {followed.reason}")
        if followed.outcome == "refused":
            context.log.error(f"{name}: {followed.reason}")
        elif followed.outcome == "deployed":
            context.log.info(f"{name}: {followed.reason}")
            deployed.append(dg.AssetMaterialization(asset_key=[name, "deployed_bundle"], metadata={
                "model_version": followed.version, "trigger": "champion alias moved",
                "revocation_serial": revocations.serial if revocations else 0}))
    return dg.SensorResult(asset_events=deployed, skip_reason=None if deployed else "; ".join(notes))
