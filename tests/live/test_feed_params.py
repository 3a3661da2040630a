"""The feed refuses query values it cannot honour (422 naming the parameter), on a real store."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from live.feed import feed_app
from live.store import LiveStore


@pytest.fixture
def client(tmp_path):
    with TestClient(feed_app(LiveStore(tmp_path / "live.sqlite"))) as client:
        yield client


@pytest.mark.parametrize(("path", "params", "headers", "message"), [
    ("/v1/insights", {"since": "99999999999999999999999"}, {}, "since must be between 0 and"),
    ("/v1/insights", {"limit": "-1"}, {}, "limit must be between 1 and 1000"),
    ("/v1/insights", {"limit": "5000"}, {}, "limit must be between 1 and 1000"),
    ("/v1/insights", {"decision": "nope"}, {}, "decision must be one of negative_review, price_spike"),
    ("/v1/insights/stream", {"since": "99999999999999999999999"}, {}, "since must be between 0 and"),
    ("/v1/insights/stream", {}, {"Last-Event-ID": "x1"}, "Last-Event-ID must be an integer"),
    ("/v1/insights/stream", {"alerts_only": "yes"}, {}, "alerts_only must be true or false"),
    ("/v1/insights/stream", {"decision": "nope"}, {}, "decision must be one of"),
])
def test_a_value_the_feed_cannot_honour_is_refused_naming_it(client, path, params, headers, message):
    response = client.get(path, params=params, headers=headers)
    assert response.status_code == 422 and message in response.json()["error"], response.text


def test_the_listing_takes_a_limit_in_range(client):
    response = client.get("/v1/insights", params={"limit": "1000", "since": str(2**63 - 1), "decision": "price_spike"})
    assert response.status_code == 200 and response.json() == {"insights": []}
