"""The feed refuses query values it cannot honour (422 naming the parameter), on a real store."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from live.feed import feed_app
from live.store import LiveStore
from test_webhooks import make_insight


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
    ("/v1/insights", {"alerts_only": "yes"}, {}, "alerts_only must be true or false"),
    ("/v1/insights", {"decision": "price_spike", "label": "urgent"}, {}, "label must be one of normal, spike, got 'urgent'"),
    ("/v1/insights/stream", {"label": "\x00"}, {}, "label must be one of"),
    ("/v1/insights", [("decision", "price_spike"), ("decision", "urgent_inventory")], {},
     "decision is given 2 times; give it once"),
    ("/v1/insights", {"since": "5_000"}, {}, "since must be an integer, got '5_000'"),
    ("/v1/insights", {"since": "+5"}, {}, "since must be an integer"),
    ("/v1/insights", {"since": "\u0665"}, {}, "since must be an integer"),
    ("/v1/insights", {"since": ""}, {}, "since must be an integer"),
    ("/v1/insights", {"decsion": "price_spike"}, {}, "unknown query parameter 'decsion'; the feed reads"),
    ("/v1/insights/stream", {"bogus": "1"}, {}, "unknown query parameter 'bogus'"),
])
def test_a_value_the_feed_cannot_honour_is_refused_naming_it(client, path, params, headers, message):
    response = client.get(path, params=params, headers=headers)
    assert response.status_code == 422 and message in response.json()["error"], response.text


def test_the_listing_takes_a_limit_in_range(client):
    response = client.get("/v1/insights", params={"limit": "1000", "since": str(2**63 - 1), "decision": "price_spike"})
    assert response.status_code == 200 and response.json() == {"insights": []}


def test_the_listing_takes_alerts_only_and_counts_its_limit_in_alerts(tmp_path):
    store = LiveStore(tmp_path / "live.sqlite")
    store.publish([make_insight(n, alert=n % 3 == 0) for n in range(1, 10)], [])
    with TestClient(feed_app(store)) as client:
        alerts = client.get("/v1/insights", params={"alerts_only": "true", "limit": "2"}).json()["insights"]
        every = client.get("/v1/insights", params={"alerts_only": "false"}).json()["insights"]
    assert [(i["product_id"], i["alert"]) for i in alerts] == [("bk00003", True), ("bk00006", True)]
    assert len(every) == 9 and sum(i["alert"] for i in every) == 3
