"""Re-publishing the revocation list before it goes stale.

A list carries its next update (``exp``, :data:`commons.revocation_list.DEFAULT_MAX_AGE_S` after it
was issued); pods alarm on a list past it. ``revocation_refresh_job`` (:mod:`orchestration.jobs`)
runs this op, which re-publishes it — the next serial, the same entries, a new ``exp`` — through
:func:`commons.revocation_list.refresh_list`, the function ``edge-insights revoke-refresh`` calls,
and records a ``revocation_refresh`` event in the control audit log. Nothing is published where no
list exists yet: the first list comes from a revocation (or from ``revoke-refresh`` run by hand).
"""

import dagster as dg

from commons.revocation_list import refresh_list
from orchestration.resources import RevocationResource, TrainingResource


@dg.op(description="Re-publish the revocation list (next serial, same entries, new next update) when one exists.")
def refresh_revocation_list(context: dg.OpExecutionContext, revocation: RevocationResource,
                            training: TrainingResource) -> dg.Output[None]:
    if not revocation.list_file.is_file():
        context.log.info(f"no revocation list at {revocation.list_file}: nothing to re-publish")
        return dg.Output(None, metadata={"published": False})
    published = refresh_list(revocation.list_file, revocation.tokens_dir, max_age_s=revocation.max_age_s,
                             audit=training.audit())
    context.log.info(f"revocation list serial {published.serial} re-published: {len(published.bundles)} bundle(s), "
                     f"{len(published.kids)} key(s)")
    return dg.Output(None, metadata={"published": True, "serial": published.serial,
                                     "bundles": len(published.bundles), "kids": len(published.kids),
                                     "next_update": dg.MetadataValue.timestamp(float(published.next_update))})
