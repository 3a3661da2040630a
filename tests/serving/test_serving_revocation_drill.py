"""The demo's revocation drill on real pods (loopback uvicorn, signed MiniLM test bundles): the
champion is withdrawn under load through the drill's own signed list, the pod turns central-only,
no request fails, and the state folder's own revocation list is left alone."""

from __future__ import annotations

import shutil

from test_serving_pod import as_central

from commons.revocation_list import default_list_path, read_published
from commons.settings import Settings
from commons.token_keys import jwks_path
from commons.warehouse import Warehouse
from edge_insights.revocation_drill import run_revocation_drill


def test_the_drill_withdraws_the_champion_under_load_with_no_failed_request(edge_bundle, central_bundle, tmp_path,
                                                                             data_dir):
    settings = Settings.from_env(state_dir=tmp_path / "state", data_dir=data_dir).ensure()
    deploy = settings.deploy_dir / "negative_review"
    shutil.copytree(edge_bundle.path, deploy / "champion")
    as_central(central_bundle, deploy / "central")
    Warehouse(settings.warehouse_path).write_features("negative_review", "run-1", [
        {"text": text, "label": 0, "product_id": f"p{i}", "source": "test", "numbers": None, "split": "eval"}
        for i, text in enumerate(edge_bundle.sentences)])

    result = run_revocation_drill(settings, "negative_review")

    assert result["revoked_sha256"] == edge_bundle.manifest["bundle_sha256"]
    assert result["failed"] == 0 and result["requests"] > 20 and result["central_answers"] > 0
    assert result["time_to_revoke_s"] >= 0.0
    drill_list = read_published(settings.state_dir / "drills" / "revocation" / "list.jwt",
                                jwks_path(settings.tokens_dir))
    assert drill_list.serial == 2 and [b["sha256"] for b in drill_list.bundles] == [result["revoked_sha256"]]
    assert not default_list_path(settings.state_dir).exists()
