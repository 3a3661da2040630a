"""The demo's webhook subscriber: Standard Webhooks signatures checked by the real package, over
real HTTP on loopback; a copy delivered twice is kept once."""

from __future__ import annotations

import base64
import json
import os
from datetime import datetime, timezone

import httpx
from standardwebhooks import Webhook

from edge_insights.alert_receiver import alert_receiver

SECRET = "whsec_" + base64.b64encode(os.urandom(32)).decode()


def _post(url: str, secret: str, webhook_id: str, payload: dict) -> int:
    body = json.dumps(payload)
    now = datetime.now(timezone.utc)
    headers = {"webhook-id": webhook_id, "webhook-timestamp": str(int(now.timestamp())),
               "webhook-signature": Webhook(secret).sign(webhook_id, now, body),
               "content-type": "application/json"}
    return httpx.post(url, content=body, headers=headers, timeout=5).status_code


def test_signed_alerts_are_kept_once_and_a_bad_signature_is_refused():
    other = "whsec_" + base64.b64encode(os.urandom(32)).decode()
    with alert_receiver(SECRET) as received:
        assert _post(received.url, SECRET, "ins_1", {"decision": "price_spike", "alert": True}) == 200
        # At-least-once delivery: the same webhook-id again is answered 200 and not counted twice.
        assert _post(received.url, SECRET, "ins_1", {"decision": "price_spike", "alert": True}) == 200
        assert _post(received.url, SECRET, "ins_2", {"decision": "urgent_inventory", "alert": True}) == 200
        assert _post(received.url, other, "ins_3", {"decision": "price_spike", "alert": True}) == 401
        summary = received.summary()
    assert summary == {"url": received.url, "requests": 4, "refused": 1, "alerts": 2,
                       "by_decision": {"price_spike": 1, "urgent_inventory": 1}}
    assert set(received.alerts) == {"ins_1", "ins_2"}
