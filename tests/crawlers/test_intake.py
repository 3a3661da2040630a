"""Pushed signal batches: the contract, JSONL/CSV parsing, the drop folder and the webhook.

Good rows are real observations (Amazon.co.jp price history, with real Alexa review texts);
bad rows are those rows with one field broken. The webhook runs as a real uvicorn subprocess.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import pytest

from commons.net import free_port

from crawlers.intake import batch as batch_module
from crawlers.intake.batch import CSV, JSONL, BatchRefused, Limits, batch_format, parse_batch
from crawlers.intake.contract import PUSH_FIELDS, SPIDER_VERSION, RowInvalid, check_row
from crawlers.intake.dropfolder import read_inbox
from commons.quarantine import QUARANTINE_FIELDS
from commons.record import content_digest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def real_rows(data_dir: Path) -> list[dict]:
    """12 real observations as pushed rows; the first 4 carry real Alexa reviews and ratings."""
    history = data_dir / "price_history_amazon_jp"
    with open(history / "products.csv", encoding="utf-8", newline="") as handle:
        titles = {row["asin"]: row["name"] for row in csv.DictReader(handle)}
    with open(data_dir / "reviews" / "amazon_alexa_reviews.tsv", encoding="utf-8",
              newline="") as handle:
        reviews = [row for _, row in zip(range(4), csv.DictReader(handle, delimiter="\t"))]
    rows = []
    with gzip.open(history / "observations.csv.gz", "rt", encoding="utf-8", newline="") as fh:
        for _, obs in zip(range(12), csv.DictReader(fh)):
            rows.append({"source": "partner_jp",
                         "url": f"https://www.amazon.co.jp/dp/{obs['asin']}",
                         "product_id": obs["asin"], "title": titles[obs["asin"]],
                         "price": obs["price"], "currency": obs["currency"],
                         "availability": "in_stock", "crawled_at": obs["timestamp"]})
    for row, review in zip(rows, reviews):
        row["review_text"] = [review["verified_reviews"]]
        row["rating"] = float(review["rating"])
    return rows


def jsonl(rows: list) -> bytes:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode("utf-8")


# Each broken row: (change to a real row, the quarantine reason it must give).
BROKEN = [
    ({"price": 5490}, "price: not a decimal string > 0 (5490)"),
    ({"price": "-3"}, "price: not a decimal string > 0 ('-3')"),
    ({"price": "1e3"}, "price: not a decimal string > 0 ('1e3')"),
    ({"currency": "jpy"}, "currency: not an ISO 4217 code ('jpy')"),
    # What the validation stage would quarantine later is refused here, where the partner hears of it.
    ({"currency": "ZZZ"}, "currency: not an ISO 4217 code ('ZZZ')"),
    ({"price": None, "currency": None, "review_text": None, "rating": None},
     "price: missing (required on a row without review_text, an offer)"),
    ({"currency": None}, "currency: missing (required with a price)"),
    ({"url": None}, "url: missing"),
    ({"url": "ftp://example.com/x"}, "url: not an absolute http(s) URL ('ftp://example.com/x')"),
    ({"url": "http://[::1"}, "url: not an absolute http(s) URL ('http://[::1'): Invalid IPv6 URL"),
    ({"url": "https://a.example:99999/p"},
     "url: not an absolute http(s) URL ('https://a.example:99999/p'): Port out of range 0-65535"),
    ({"url": "http://shop example/p"}, "url: white space in the host ('http://shop example/p')"),
    ({"url": "https://a.example:0/p"}, "url: not an absolute http(s) URL ('https://a.example:0/p'): port 0"),
    ({"url": "https://jane:s3cret@a.example/p"},
     "url: carries credentials (user:password@): they would be stored with every signal"),
    ({"url": "https://a.example/p\r\nX-Injected: 1"},
     "url: holds a control character U+000D ('https://a.example/p\\r\\nX-Injected: 1')"),
    ({"url": "http://example.com/\u202ep"}, "url: holds a format character U+202E ('http://example.com/\\u202ep')"),
    ({"url": "http://a..b/p"}, "url: not an absolute http(s) URL ('http://a..b/p'): an empty label in the host"),
    ({"url": "http://.a.example/p"},
     "url: not an absolute http(s) URL ('http://.a.example/p'): an empty label in the host"),
    # Hidden characters: a NUL cannot be named on `erase`'s command line, a bidi override shows another text.
    ({"product_id": "SKU\u0000-1"}, "product_id: holds a control character U+0000 ('SKU\\x00-1')"),
    ({"source": "partner\u200bjp"}, "source: holds a format character U+200B ('partner\\u200bjp')"),
    ({"title": "A\u0000B"}, "title: holds a control character U+0000 ('A\\x00B')"),
    ({"title": "Echo \u202eGNIRAPS"}, "title: holds a format character U+202E ('Echo \\u202eGNIRAPS')"),
    ({"url": "https://a.example/" + "p" * 2100}, "url: 2,118 characters; a URL must be shorter than 2,048"),
    ({"merchant_name": "AnkerDirect"}, "merchant_name: unknown field"),
    ({"content_digest": "0" * 64}, "content_digest: unknown field"),
    ({"availability": "available"},
     "availability: 'available' not one of in_stock, out_of_stock, preorder, unknown"),
    ({"rating": 7}, "rating: not a number in 0-5 (7)"),
    ({"rating": True}, "rating: not a number in 0-5 (True)"),
    ({"stock_count": -1}, "stock_count: not an integer >= 0 (-1)"),
    ({"stock_count": 2.0}, "stock_count: not an integer >= 0 (2.0)"),
    ({"crawled_at": "2024-02-17T18:21:45"},
     "crawled_at: not ISO-8601 with a UTC offset ('2024-02-17T18:21:45')"),
    ({"review_text": "Love my Echo!"}, "review_text: not a list of strings"),
    ({"product_id": " ", "feedback": "yes"},
     "product_id: not a non-blank string; feedback: not a boolean ('yes')"),
]


def test_jsonl_batch_good_rows_become_records_bad_rows_quarantine(real_rows):
    bad = [{**real_rows[0], **change} for change, _ in BROKEN]
    lines = jsonl(real_rows).decode().splitlines()
    lines += [json.dumps(b, ensure_ascii=False) for b in bad]
    lines += ["", '{"source": "partner_jp", "url": ', '["not", "an", "object"]']
    data = ("\n".join(lines) + "\n").encode("utf-8")

    batch = parse_batch(data, JSONL, "b-jsonl-1")

    assert batch.rows == 12 + len(BROKEN) + 2  # the blank line is not a row
    assert len(batch.records) == 12 and len(batch.quarantine) == len(BROKEN) + 2
    assert batch.rows == len(batch.records) + len(batch.quarantine)
    reasons = {q["url"]: q["reason"] for q in batch.quarantine}
    for n, (_, reason) in enumerate(BROKEN, start=13):
        assert reasons[f"push://b-jsonl-1#{n}"] == reason
    after = 14 + len(BROKEN)  # past the broken rows and the blank line
    assert reasons[f"push://b-jsonl-1#{after}"].startswith("row: not JSON (Expecting value")
    assert reasons[f"push://b-jsonl-1#{after + 1}"] == "row: a JSON list, not an object"
    for q in batch.quarantine:
        assert set(q) == set(QUARANTINE_FIELDS) and q["stage"] == "intake"
        assert q["crawl_id"] == "b-jsonl-1"
    by_line = {q["url"]: q for q in batch.quarantine}
    assert by_line["push://b-jsonl-1#13"]["product_id"] == real_rows[0]["product_id"]
    assert json.loads(by_line["push://b-jsonl-1#13"]["record_json"])["price"] == 5490

    first = batch.records[0]
    assert first["price"] == real_rows[0]["price"] == "5490"
    assert first["currency"] == "JPY" and first["product_id"] == "B0BXSKY533"
    assert first["crawled_at"] == "2024-02-17T18:21:45.800126+00:00"
    assert first["review_text"] == ["Love my Echo!"] and first["rating"] == 5.0
    assert first["stock_count"] is None and first["feedback"] is None
    assert first["provenance"] == {
        "crawl_id": "b-jsonl-1", "spider_version": SPIDER_VERSION, "http_status": None,
        "response_digest": hashlib.sha256(lines[0].encode("utf-8")).hexdigest()}
    assert all(r["content_digest"] == content_digest(r) for r in batch.records)


def test_a_fault_in_a_row_check_quarantines_that_row_and_keeps_the_batch(real_rows, monkeypatch, caplog):
    real_to_record = batch_module.to_record

    def faulty(row, **kwargs):  # a contract check with a bug that raises on one row only
        if row["product_id"] == real_rows[1]["product_id"]:
            raise TypeError("unsupported operand type(s) for +: 'int' and 'str'")
        return real_to_record(row, **kwargs)

    monkeypatch.setattr(batch_module, "to_record", faulty)
    batch = parse_batch(jsonl(real_rows[:3]), JSONL, "b-fault")
    assert [r["product_id"] for r in batch.records] == [real_rows[0]["product_id"], real_rows[2]["product_id"]]
    assert [(q["url"], q["reason"]) for q in batch.quarantine] == [(
        "push://b-fault#2", "contract check failed (TypeError: unsupported operand type(s) for +: 'int' and "
                            "'str'); kept for a fix and a replay")]
    assert json.loads(batch.quarantine[0]["record_json"]) == real_rows[1]
    assert "the contract check failed" in caplog.text


def test_contract_normalises_offsets_to_utc():
    fields = check_row({"source": "s", "url": "https://shop.example/p/1", "product_id": "p1",
                        "availability": "preorder", "crawled_at": "2024-03-01T09:00:00+09:00",
                        "price": "12.50", "currency": "EUR", "stock_count": 0, "rating": 0})
    assert fields["crawled_at"].isoformat() == "2024-03-01T00:00:00+00:00"
    assert str(fields["price"]) == "12.50" and fields["rating"] == 0.0
    assert set(fields) == set(PUSH_FIELDS)


def test_csv_batch_converts_cells_and_quarantines_bad_rows(real_rows):
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["source", "url", "product_id", "title", "price", "currency", "availability",
                     "stock_count", "rating", "review_text", "feedback", "crawled_at"])
    a, b, c = real_rows[0], real_rows[1], real_rows[5]
    writer.writerow([a["source"], a["url"], a["product_id"], a["title"], a["price"], "JPY",
                     "in_stock", "3", "4.5", json.dumps(["Love my Echo!", "Loved it!"]), "TRUE",
                     a["crawled_at"]])
    # A quoted cell spanning two lines: the next row starts on line 5.
    writer.writerow([b["source"], b["url"], b["product_id"], "", "", "", "out_of_stock", "", "",
                     "[Update] still fine,\nafter a year", "", b["crawled_at"]])
    writer.writerow([c["source"], c["url"], c["product_id"], "", c["price"], "JPY", "unknown",
                     "many", "", '["ok", 3]', "", c["crawled_at"]])
    writer.writerow([c["source"], c["url"], c["product_id"]])
    data = out.getvalue().encode("utf-8")

    batch = parse_batch(data, CSV, "b-csv-1")

    assert (batch.rows, len(batch.records), len(batch.quarantine)) == (4, 2, 2)
    first, second = batch.records
    assert first["stock_count"] == 3 and first["rating"] == 4.5 and first["feedback"] is True
    assert first["review_text"] == ["Love my Echo!", "Loved it!"]
    assert first["title"] == a["title"] and first["price"] == "5490"
    assert second["review_text"] == ["[Update] still fine,\nafter a year"]
    assert second["price"] is None and second["title"] is None and second["currency"] is None
    raw_second = data.split(b"\r\n")[2]  # the quoted cell holds a bare LF
    assert second["provenance"]["response_digest"] == hashlib.sha256(raw_second).hexdigest()
    reasons = {q["url"]: q["reason"] for q in batch.quarantine}
    assert reasons == {
        "push://b-csv-1#5": "stock_count: not an integer >= 0 ('many'); "
                            "review_text: not a list of strings",
        "push://b-csv-1#6": "row: 3 cells, header has 12"}


@pytest.mark.parametrize(("data", "fmt", "status", "reason"), [
    (b"", JSONL, 422, "batch is empty: no data rows"),
    (b"\n  \n", JSONL, 422, "batch is empty: no data rows"),
    (b"source,url,product_id,availability,crawled_at\r\n", CSV, 422,
     "batch is empty: no data rows"),
    (b"source,url,product_id\r\nx,y,z\r\n", JSONL, 422,
     "not JSON Lines: line 1: not JSON (Expecting value at column 1)"),
    (b"source,url,product_id\r\nx,y,z\r\n", CSV, 422,
     "CSV header: missing required columns: availability, crawled_at"),
    (b"source,url,product_id,availability,crawled_at,asin,url\r\n", CSV, 422,
     "CSV header: repeated columns: url; unknown columns: asin (allowed: source, url,"),
    (b'{"source": "caf\xe9"}\n', JSONL, 422, "batch is not UTF-8: undecodable byte at offset 15"),
])
def test_unreadable_batches_are_refused_whole(data, fmt, status, reason):
    with pytest.raises(BatchRefused) as refused:
        parse_batch(data, fmt, "b-bad")
    assert refused.value.http_status == status
    assert refused.value.reason.startswith(reason)


def test_size_and_row_limits_refuse_the_batch(real_rows):
    data = jsonl(real_rows)
    with pytest.raises(BatchRefused) as too_big:
        parse_batch(data, JSONL, "b", limits=Limits(max_bytes=len(data) - 1))
    assert too_big.value.http_status == 413 and f"{len(data):,} bytes" in too_big.value.reason
    with pytest.raises(BatchRefused) as too_many:
        parse_batch(data, JSONL, "b", limits=Limits(max_rows=11))
    assert (too_many.value.http_status, too_many.value.reason) == (
        413, "batch has more than 11 rows")
    assert parse_batch(data, JSONL, "b", limits=Limits(max_bytes=len(data), max_rows=12)).rows == 12


def test_a_row_swallowed_by_an_open_quote_is_quarantined_with_it(real_rows):
    # Row 2's review opens a quote that row 3 closes: CSV reads one row with row 3 in its text.
    a, b, c = real_rows[0], real_rows[1], real_rows[2]
    lines = ["source,url,product_id,availability,crawled_at,review_text",
             f'{a["source"]},{a["url"]},{a["product_id"]},in_stock,{a["crawled_at"]},"Great, ok product',
             f'{b["source"]},{b["url"]},{b["product_id"]},in_stock,{b["crawled_at"]},fine"',
             f'{c["source"]},{c["url"]},{c["product_id"]},in_stock,{c["crawled_at"]},Fine']
    batch = parse_batch("\n".join(lines).encode("utf-8") + b"\n", CSV, "b-open-quote")
    assert (batch.rows, len(batch.records), len(batch.quarantine)) == (2, 1, 1)
    assert batch.records[0]["product_id"] == c["product_id"]
    [held] = batch.quarantine
    assert held["url"] == "push://b-open-quote#2"
    assert held["reason"].startswith("row: line 3 inside a quoted cell reads as a whole row")
    assert b["url"] in held["record_json"]  # the swallowed row is kept, not lost
    # A review whose lines do not read as rows (no URL where the header has one) stays a record.
    legit = lines[:2] + ["and a second line, with, four, more, commas\""]
    kept = parse_batch("\n".join(legit).encode("utf-8") + b"\n", CSV, "b-multiline")
    assert (kept.rows, len(kept.records), len(kept.quarantine)) == (1, 1, 0)


def test_csv_tokeniser_errors_refuse_the_batch():
    with pytest.raises(BatchRefused, match="malformed CSV at line 2"):
        parse_batch(b'source,url,product_id,availability,crawled_at\r\n"a"b,c,d,e,f\r\n', CSV,
                    "b")


def test_batch_format_from_content_type_or_name():
    assert batch_format(content_type="application/x-ndjson; charset=UTF-8") == JSONL
    assert batch_format(content_type="text/csv") == CSV
    assert batch_format(filename="partner-2024-02-17.CSV") == CSV
    for kwargs, message in [({"content_type": "application/json"}, "content type"),
                            ({"content_type": "text/csv; charset=latin-1"}, "charset"),
                            ({"filename": "batch.json"}, "not a batch"),
                            ({"content_type": ""}, "no Content-Type given; send the batch as one of")]:
        with pytest.raises(BatchRefused, match=message) as refused:
            batch_format(**kwargs)
        assert refused.value.http_status == 415


def test_drop_folder_moves_files_and_never_ingests_twice(real_rows, tmp_path):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "jp-001.jsonl").write_bytes(jsonl(real_rows[:6] + [{**real_rows[6], "rating": 9}]))
    header = "source,url,product_id,price,currency,availability,crawled_at\n"
    r = real_rows[7]
    (inbox / "jp-002.csv").write_text(header + ",".join(
        [r["source"], r["url"], r["product_id"], r["price"], "JPY", "unknown", r["crawled_at"]])
        + "\n", encoding="utf-8")
    (inbox / "jp-003.csv").write_text("asin,price\nB0BXSKY533,5490\n", encoding="utf-8")
    (inbox / ".wh-x.jsonl.tmp").write_bytes(jsonl(real_rows))  # a webhook write in flight
    (inbox / ".half.jsonl").write_bytes(jsonl(real_rows)[:50])  # a copy in flight, named as a batch
    (inbox / "notes.txt").write_text("not a batch")

    load = read_inbox(inbox, "run-1")

    assert (len(load.records), len(load.quarantine), load.rows) == (7, 1, 8)
    assert {r["provenance"]["crawl_id"] for r in load.records} == {"jp-001", "jp-002"}
    summary = {f.name: (f.status, f.rows, f.records, f.quarantined) for f in load.files}
    assert summary == {"jp-001.jsonl": ("processed", 7, 6, 1),
                       "jp-002.csv": ("processed", 1, 1, 0),
                       "jp-003.csv": ("refused", 0, 0, 0)}
    assert load.quarantine[0]["reason"] == "rating: not a number in 0-5 (9)"
    assert sorted(p.name for p in inbox.iterdir()) == [
        ".half.jsonl", ".read_inbox.lock", ".wh-x.jsonl.tmp", "notes.txt", "processed", "refused"]
    assert (inbox / "processed" / "run-1" / "jp-001.jsonl").is_file()
    reason = (inbox / "refused" / "run-1" / "jp-003.csv.reason.txt").read_text()
    assert reason.startswith("CSV header: missing required columns: source, url, product_id")

    assert read_inbox(inbox, "run-2").files == []  # a later load never sees them again
    again = read_inbox(inbox, "run-1")  # a retried step of the same load reads the same
    assert again.records == load.records
    assert [f.status for f in again.files] == ["processed", "processed", "refused"]

    (inbox / "jp-001.jsonl").write_bytes(jsonl(real_rows[8:10]))  # same name, new batch
    renamed = read_inbox(inbox, "run-1")
    assert [f.name for f in renamed.files if f.batch_id.startswith("jp-001")] == [
        "jp-001.jsonl", "jp-001~2.jsonl"]
    assert len(renamed.records) == 9


@pytest.fixture(scope="module")
def webhook(tmp_path_factory):
    """A real intake server (uvicorn subprocess on loopback), 64 KiB and 50-row limits."""
    yield from _intake_server(tmp_path_factory.mktemp("webhook"), "--max-bytes", "65536", "--max-rows", "50")


@pytest.fixture(scope="module")
def default_webhook(tmp_path_factory):
    """A real intake server with the default limits (8 MiB, 20,000 rows)."""
    yield from _intake_server(tmp_path_factory.mktemp("default_webhook"))


def _intake_server(folder: Path, *limits: str) -> Iterator[tuple[httpx.Client, Path]]:
    """``edge-insights intake serve`` with ``limits`` options, inbox under ``folder``: (client, inbox)."""
    inbox, log = folder / "inbox", folder / "server.log"
    port = free_port()
    env = {**os.environ, "TEST_INTAKE_TOKENS": "tok-partner-a, tok-partner-b"}
    with open(log, "wb") as log_file:
        proc = subprocess.Popen(
            [sys.executable, "-m", "edge_insights", "intake", "serve", "--inbox", str(inbox), "--port",
             str(port), "--token-env", "TEST_INTAKE_TOKENS", *limits],
            cwd=REPO, env=env, stdout=log_file, stderr=subprocess.STDOUT)
    # trust_env=False: a proxy set in the environment must not carry loopback requests.
    client = httpx.Client(base_url=f"http://127.0.0.1:{port}", trust_env=False, timeout=10)
    deadline = time.monotonic() + 20
    while True:
        try:
            if client.get("/healthz", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"intake server did not start: {log.read_text()[-2000:]}")
        time.sleep(0.1)
    assert f"intake listening on http://127.0.0.1:{port}" in log.read_text()
    yield client, inbox
    client.close()
    proc.terminate()
    proc.wait(timeout=10)


def test_webhook_refuses_without_a_valid_token(webhook, real_rows):
    client, inbox = webhook
    body = jsonl(real_rows[:2])
    for headers in ({}, {"Authorization": "Bearer tok-partner-c"},
                    {"Authorization": "Basic tok-partner-a"}):
        answer = client.post("/v1/signals", content=body,
                            headers={"Content-Type": "application/x-ndjson", **headers})
        assert answer.status_code == 401
        assert answer.headers["www-authenticate"] == "Bearer"
    assert not list(inbox.glob("*.jsonl"))


def test_webhook_accepts_batches_into_the_inbox_for_the_reader(webhook, real_rows):
    client, inbox = webhook

    def post(body: bytes, ctype: str, token: str = "tok-partner-b") -> httpx.Response:
        return client.post("/v1/signals", content=body,
                           headers={"Authorization": f"Bearer {token}", "Content-Type": ctype})

    # An unclosed "[" makes urlsplit raise: once a 500 that lost the whole batch.
    mixed = jsonl(real_rows[:10] + [{**real_rows[10], "price": "0"}, {**real_rows[11], "url": "http://[::1"}])
    answer = post(mixed, "application/x-ndjson; charset=utf-8")
    assert answer.status_code == 202
    accepted = answer.json()
    assert accepted["batch_id"].startswith("wh-")
    assert {k: accepted[k] for k in ("rows", "accepted", "quarantined")} == {
        "rows": 12, "accepted": 10, "quarantined": 2}
    assert accepted["quarantine"] == [
        {"url": f"push://{accepted['batch_id']}#11", "reason": "price: not a decimal string > 0 ('0')"},
        {"url": f"push://{accepted['batch_id']}#12",
         "reason": "url: not an absolute http(s) URL ('http://[::1'): Invalid IPv6 URL"}]
    assert (inbox / f"{accepted['batch_id']}.jsonl").read_bytes() == mixed

    r = real_rows[11]
    csv_body = ("source,url,product_id,availability,crawled_at,price,currency\r\n"
                f"{r['source']},{r['url']},{r['product_id']},unknown,{r['crawled_at']},{r['price']},JPY\r\n")
    csv_answer = post(csv_body.encode(), "text/csv", token="tok-partner-a")
    assert csv_answer.status_code == 202 and csv_answer.json()["accepted"] == 1

    assert post(b"source,url\r\n", "text/csv").status_code == 422
    refused = post(b"a,b\r\n1,2\r\n", "application/x-ndjson")
    assert refused.status_code == 422 and refused.json()["error"].startswith("not JSON Lines")
    assert post(mixed, "application/json").status_code == 415
    untyped = client.post("/v1/signals", content=mixed, headers={"Authorization": "Bearer tok-partner-a"})
    assert untyped.status_code == 415 and untyped.json()["error"].startswith("no Content-Type given")
    gzipped = client.post("/v1/signals", content=gzip.compress(mixed), headers={
        "Authorization": "Bearer tok-partner-a", "Content-Type": "application/x-ndjson", "Content-Encoding": "gzip"})
    assert gzipped.status_code == 415 and gzipped.json()["error"].startswith("content encoding 'gzip' not accepted")
    too_big = post(b"x" * 70_000, "application/x-ndjson")
    assert too_big.status_code == 413 and "70,000 bytes" in too_big.json()["error"]
    chunked = client.post("/v1/signals", content=iter([b"x" * 40_000] * 2), headers={
        "Authorization": "Bearer tok-partner-a", "Content-Type": "application/x-ndjson"})
    assert chunked.status_code == 413
    too_many = post(jsonl(real_rows * 5), "application/x-ndjson")
    assert too_many.status_code == 413 and too_many.json()["error"] == "batch has more than 50 rows"
    assert len(list(inbox.glob("wh-*"))) == 2  # refused batches are not written

    load = read_inbox(inbox, "harvest-1")
    assert (load.rows, len(load.records), len(load.quarantine)) == (13, 11, 2)
    assert sorted(f.name for f in load.files) == sorted(
        [f"{accepted['batch_id']}.jsonl", f"{csv_answer.json()['batch_id']}.csv"])
    from_webhook = [x for x in load.records if x["provenance"]["crawl_id"] == accepted["batch_id"]]
    assert [x["product_id"] for x in from_webhook] == [x["product_id"] for x in real_rows[:10]]
    assert load.quarantine[0]["url"] == f"push://{accepted['batch_id']}#11"


def _post_offers_csv(client, rows: list[dict], column: str, values: list[str]) -> dict:
    """POST ``rows`` as an in-stock JPY offer CSV with one extra quoted ``column`` of ``values``;
    the 202 answer's JSON."""
    body = f"source,url,product_id,availability,crawled_at,price,currency,{column}\r\n" + "".join(
        f'{r["source"]},{r["url"]},{r["product_id"]},in_stock,{r["crawled_at"]},{r["price"]},JPY,"{value}"\r\n'
        for r, value in zip(rows, values))
    answer = client.post("/v1/signals", content=body.encode("utf-8"),
                         headers={"Authorization": "Bearer tok-partner-a", "Content-Type": "text/csv"})
    assert answer.status_code == 202, answer.text
    return answer.json()


def test_webhook_quarantines_a_csv_row_with_a_nul_in_its_title(webhook, real_rows):
    client, inbox = webhook
    accepted = _post_offers_csv(client, real_rows, "title", [real_rows[0]["title"], "A\x00B", real_rows[2]["title"]])
    assert (accepted["rows"], accepted["accepted"], accepted["quarantined"]) == (3, 2, 1)
    assert accepted["quarantine"] == [{"url": f"push://{accepted['batch_id']}#3",
                                       "reason": "title: holds a control character U+0000 ('A\\x00B')"}]
    (inbox / f"{accepted['batch_id']}.csv").unlink()  # the inbox test counts what the others leave


def test_a_csv_cell_over_the_cell_limit_quarantines_its_row_not_the_batch(default_webhook, real_rows):
    client, inbox = default_webhook
    accepted = _post_offers_csv(client, real_rows, "review_text", ["Love my Echo!", "Long. " * 33_334, "Fine."])
    assert (accepted["rows"], accepted["accepted"], accepted["quarantined"]) == (3, 2, 1)
    assert accepted["quarantine"] == [{
        "url": f"push://{accepted['batch_id']}#3",
        "reason": "review_text: a cell of 200,004 characters; a CSV cell holds at most 131,072"}]
    load = read_inbox(inbox, "harvest-long-cell")
    assert [r["review_text"] for r in load.records] == [["Love my Echo!"], ["Fine."]]
    assert len(load.quarantine[0]["record_json"]) > 200_000  # the row is kept whole for a fix


def hostile_lines(row: dict) -> list[tuple[str, str]]:
    """JSON lines built from a real row that once crashed the intake, with their reasons."""
    good = json.dumps(row, ensure_ascii=False)
    future = (datetime.now(timezone.utc) + timedelta(days=2)).isoformat()
    return [
        (json.dumps({**row, "review_text": ["bad \ud800 thing"]}),  # ensure_ascii writes \ud800
         "review_text: invalid unicode (lone surrogate)"),
        (good[:-1] + ', "title": ' + "[" * 50_000 + "]" * 50_000 + "}", "row: JSON nested too deep"),
        (good[:-1] + ', "stock_count": ' + "9" * 5_000 + "}",
         "row: an integer longer than 4,300 digits"),
        (json.dumps({**row, "crawled_at": future}, ensure_ascii=False), "crawled_at: in the future"),
        (json.dumps({**row, "rating": 10 ** 400}, ensure_ascii=False), "rating: not a number in 0-5"),
        # Which product was meant is unknowable (pods refuse the same with 422).
        (good[:-1] + ', "product_id": "B2"}', "row: key 'product_id' given twice in one object"),
    ]


def test_hostile_rows_are_quarantined_with_a_reason(real_rows):
    hostile = hostile_lines(real_rows[0])
    # A first line nested too deep is a bad row too, not a sign of another format.
    data = "\n".join([line for line, _ in hostile] + [json.dumps(real_rows[1], ensure_ascii=False)])

    batch = parse_batch(data.encode("utf-8"), JSONL, "b-hostile")

    assert (batch.rows, len(batch.records)) == (len(hostile) + 1, 1)
    for q, (_, reason) in zip(batch.quarantine, hostile):
        assert q["reason"].startswith(reason)
    assert batch.quarantine[0]["source"] == real_rows[0]["source"]


def test_crawled_at_up_to_a_day_ahead_is_accepted():
    row = {"source": "s", "url": "https://shop.example/p/1", "product_id": "p1", "availability": "unknown",
           "price": "1.00", "currency": "EUR"}
    soon = datetime.now(timezone.utc) + timedelta(hours=23)
    assert check_row({**row, "crawled_at": soon.isoformat()})["crawled_at"] == soon
    with pytest.raises(RowInvalid, match=r"crawled_at: out of range \('9999-12-31T23:00:00-05:00'\)"):
        check_row({**row, "crawled_at": "9999-12-31T23:00:00-05:00"})


def test_a_lone_surrogate_in_a_csv_review_cell_is_quarantined():
    data = ('source,url,product_id,availability,crawled_at,review_text\r\n'
            'p,https://shop.example/p/1,p1,in_stock,2024-02-17T18:21:45+00:00,"[""\\ud800""]"\r\n'
            'p,https://shop.example/p/1,p1,in_stock,2024-02-17T18:21:45+00:00,"' + "[" * 50_000 + '"\r\n')
    batch = parse_batch(data.encode("utf-8"), CSV, "b-csv-hostile")
    # A cell too deep for Python's JSON parser is one review, as any other non-JSON cell: here one
    # longer than negative_review takes.
    assert [q["reason"] for q in batch.quarantine] == [
        "review_text: invalid unicode (lone surrogate)",
        "review_text: 50,000 characters joined; negative_review takes at most 5,000"]
    assert batch.records == []


def test_webhook_quarantines_hostile_rows_and_refuses_a_batch_with_none_left(webhook, real_rows):
    client, inbox = webhook
    headers = {"Authorization": "Bearer tok-partner-a", "Content-Type": "application/x-ndjson"}
    hostile = [h for h in hostile_lines(real_rows[2]) if "nested" not in h[1]]
    # The 50,000-deep row alone is over the test server's 64 KiB limit: sent in its own batch.
    deep = (json.dumps(real_rows[2])[:-1] + ', "title": ' + "[" * 30_000 + "]" * 30_000 + "}",
            "row: JSON nested too deep")
    for batch in (hostile, [deep]):
        body = "\n".join(line for line, _ in batch).encode("utf-8")
        refused = client.post("/v1/signals", content=body, headers=headers)
        assert refused.status_code == 422, refused.text
        answer = refused.json()
        assert answer["error"] == "every row was quarantined: nothing to ingest"
        assert (answer["rows"], answer["quarantined"]) == (len(batch), len(batch))
        for q, (_, reason) in zip(answer["quarantine"], batch):
            assert q["reason"].startswith(reason)
    assert not list(inbox.glob("wh-*"))  # nothing to ingest, nothing written

    body = "\n".join([line for line, _ in hostile] + [json.dumps(real_rows[3], ensure_ascii=False)])
    accepted = client.post("/v1/signals", content=body.encode("utf-8"), headers=headers)
    assert accepted.status_code == 202, accepted.text
    assert (accepted.json()["accepted"], accepted.json()["quarantined"]) == (1, len(hostile))
    assert (inbox / f"{accepted.json()['batch_id']}.jsonl").read_bytes() == body.encode("utf-8")


def test_values_the_warehouse_cannot_store_or_read_are_quarantined():
    """A count past BIGINT, a price past DECIMAL(18, 4) and keys made only of invisible
    characters would fail or hide at the warehouse: each is a row-level reason."""
    base = {"source": "partner-a", "url": "https://shop.example/p/1", "product_id": "p1",
            "availability": "in_stock", "crawled_at": "2026-11-01T00:00:00+00:00", "price": "1.00", "currency": "EUR"}
    reasons = {}
    for field, value in (("stock_count", 10**23), ("price", "9" * 20), ("source", "\u200b\u200b"),
                         ("product_id", "\u00ad")):
        with pytest.raises(RowInvalid) as refused:
            check_row({**base, field: value})
        reasons[field] = refused.value.reasons
    assert reasons == {
        "stock_count": ["stock_count: over the largest storable count 9223372036854775807 (100000000000000000000000)"],
        "price": ["price: over the largest storable amount 99999999999999 ('99999999999999999999')"],
        "source": ["source: not a non-blank string"], "product_id": ["product_id: not a non-blank string"]}
    assert check_row({**base, "stock_count": 2**63 - 1})["stock_count"] == 2**63 - 1


def test_a_batch_named_in_bytes_that_are_not_utf8_or_too_long_is_taken_under_a_safe_name(real_rows, tmp_path):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    # A partner's system wrote "é" in latin-1; another name fills the file system's 255 bytes.
    (inbox / os.fsdecode(b"partner2-caf\xe9.jsonl")).write_bytes(jsonl(real_rows[:2]))
    (inbox / ("p" * 249 + ".jsonl")).write_bytes(b"this is not json\n")
    load = read_inbox(inbox, "run-1")
    (kept, refused) = sorted(load.files, key=lambda f: f.status)
    assert kept.name.startswith("partner2-caf_-") and kept.name.endswith(".jsonl") and kept.name.isprintable()
    assert {r["provenance"]["crawl_id"] for r in load.records} == {kept.batch_id}
    assert len(load.records) == 2
    kept.batch_id.encode("utf-8")  # the warehouse stores it as UTF-8 text
    assert refused.status == "refused" and len(refused.name.encode()) <= 200
    assert refused.path.with_name(refused.name + ".reason.txt").read_text().strip() == refused.reason
    assert sorted(p.name for p in inbox.iterdir()) == [".read_inbox.lock", "processed", "refused"]


@pytest.mark.parametrize(("change", "reason"), [
    ({"product_id": "  QA-WS  "}, "product_id: white space or a control character at its ends ('  QA-WS  ')"),
    ({"product_id": "QA\t"}, "product_id: white space or a control character at its ends ('QA\\t')"),
    ({"product_id": "p" * 300}, "product_id: 300 characters; the decisions take at most 256"),
    ({"product_id": "★★"}, "product_id: no letter or digit in it: erasure could not name it ('★★')"),
    ({"source": "%"}, "source: no letter or digit in it: erasure could not name it ('%')"),
    ({"source": "partner "}, "source: white space or a control character at its ends ('partner ')"),
    ({"title": "t" * 1000}, "title: 1,000 characters; the decisions take at most 500"),
    ({"review_text": ["r" * 4000, "s" * 3200]},
     "review_text: 7,201 characters joined; negative_review takes at most 5,000"),
    ({"review_text": ["", "   "]}, "review_text: no text in the list (null when the row carries no review)"),
    ({"review_text": ["Fine."], "rating": 0}, "rating: 0 on a review (reviews are rated 1-5)"),
])
def test_rows_a_decision_or_erasure_could_not_take_are_refused_at_intake(real_rows, change, reason):
    """What a pod's contract, the review rules or `erase` would refuse later is refused where the
    partner hears of it (each once counted accepted, then quarantined or unerasable downstream)."""
    with pytest.raises(RowInvalid) as refused:
        check_row({**real_rows[0], **change})
    assert refused.value.reasons == [reason]
    check_row({**real_rows[0], "product_id": "QA WS", "title": "t" * 500, "review_text": ["r" * 5000]})


def test_free_text_keeps_line_breaks_and_joiners_and_a_host_its_root_dot(real_rows):
    """A title may hold tabs, line breaks, ZWNJ (Persian) and ZWJ (emoji); a review any text."""
    title = "Echo Dot\t(5th gen)\r\nمی\u200cخواهم 👩\u200d💻"
    row = check_row({**real_rows[0], "url": "https://www.amazon.co.jp./dp/B0BXSKY533", "title": title,
                     "review_text": ["Fine\u200b.\x0bBroke."]})
    assert (row["title"], row["url"]) == (title, "https://www.amazon.co.jp./dp/B0BXSKY533")


@pytest.mark.parametrize(("stock", "rating", "reason"), [
    ("1_000", "", "stock_count: not an integer >= 0 ('1_000')"),
    ("٣", "", "stock_count: not an integer >= 0 ('٣')"),
    ("3", "٤", "rating: not a number in 0-5 ('٤')"),
    ("3", "nan", "rating: not a number in 0-5 ('nan')"),
])
def test_csv_numbers_are_ascii_decimals_as_a_partners_export_writes_them(real_rows, stock, rating, reason):
    a = real_rows[0]
    header = "source,url,product_id,price,currency,availability,stock_count,rating,crawled_at\r\n"
    row = f"{a['source']},{a['url']},{a['product_id']},{a['price']},JPY,in_stock,{stock},{rating},{a['crawled_at']}\r\n"
    batch = parse_batch((header + row).encode("utf-8"), CSV, "b-csv-digits")
    assert [q["reason"] for q in batch.quarantine] == [reason]
    kept = parse_batch((header + row.replace(f",{stock},{rating},", ",12,-0.5,")).encode("utf-8"), CSV, "b-ok")
    assert [q["reason"] for q in kept.quarantine] == ["rating: not a number in 0-5 (-0.5)"]
