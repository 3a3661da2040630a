"""The Amazon.co.jp price-history backfill: daily partitions of the real file, plus broken rows."""

from __future__ import annotations

import csv
import gzip
import hashlib
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

import pytest

from crawlers.intake.price_history import COLUMNS, SOURCE, SPIDER_VERSION, price_history_batches
from commons.record import content_digest

pytestmark = pytest.mark.slow  # builds models, reads whole data sets or starts processes

KNOWN_ASIN, KNOWN_TIME = "B0CH86QNSG", "2024-03-16T16:06:13.004441+0000"


@pytest.fixture(scope="module")
def history(data_dir: Path) -> Path:
    return data_dir / "price_history_amazon_jp" / "observations.csv.gz"


@pytest.fixture(scope="module")
def expected(history: Path) -> dict:
    """Counted independently of the loader: rows per UTC day, the known row, first raw line."""
    per_day: Counter[str] = Counter()
    known = None
    with gzip.open(history, "rt", encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            when = datetime.strptime(row["timestamp"], "%Y-%m-%dT%H:%M:%S.%f%z")
            per_day[when.astimezone(timezone.utc).strftime("%Y-%m-%d")] += 1
            if (row["asin"], row["timestamp"]) == (KNOWN_ASIN, KNOWN_TIME):
                known = row
    with gzip.open(history, "rb") as handle:
        first_raw = handle.read(4096).split(b"\n")[1]
    with open(history.parent / "products.csv", encoding="utf-8", newline="") as handle:
        titles = {row["asin"]: row["name"] for row in csv.DictReader(handle)}
    return {"per_day": per_day, "known": known, "first_raw": first_raw, "titles": titles}


@pytest.fixture(scope="module")
def loaded(history: Path) -> dict:
    """One pass over the whole file; keeps counts and the few records the tests look at."""
    keys, per_day, quarantined, first, known = [], Counter(), 0, None, None
    for key, records, quarantine in price_history_batches(history):
        keys.append(key)
        per_day[key] = len(records) + len(quarantine)
        quarantined += len(quarantine)
        first = first or records[0]
        if key == KNOWN_TIME[:10]:
            known = next(r for r in records if r["product_id"] == KNOWN_ASIN
                         and r["crawled_at"] == "2024-03-16T16:06:13.004441+00:00")
    return {"keys": keys, "per_day": per_day, "records": sum(per_day.values()) - quarantined,
            "quarantined": quarantined, "first": first, "known": known}


def test_one_partition_per_utc_day_and_every_row_accounted_for(loaded, expected):
    assert loaded["keys"] == sorted(expected["per_day"]) and len(loaded["keys"]) == 817
    assert loaded["per_day"] == expected["per_day"]
    assert sum(expected["per_day"].values()) == 173122
    # The shared file is clean: every observation passes the contract.
    assert (loaded["records"], loaded["quarantined"]) == (173122, 0)


def test_known_price_equals_the_csv(loaded, expected):
    known, row = loaded["known"], expected["known"]
    assert known["price"] == row["price"] == "36000" and known["currency"] == "JPY"
    assert known["url"] == f"https://www.amazon.co.jp/dp/{KNOWN_ASIN}"
    assert known["title"] == expected["titles"][KNOWN_ASIN]
    assert known["availability"] == "unknown" and known["source"] == SOURCE
    assert known["provenance"]["crawl_id"] == f"{SOURCE}:2024-03-16"
    assert known["content_digest"] == content_digest(known)


def test_provenance_digests_the_raw_csv_row(loaded, expected):
    first = loaded["first"]
    assert first["provenance"] == {
        "crawl_id": f"{SOURCE}:2024-02-17", "spider_version": SPIDER_VERSION, "http_status": None,
        "response_digest": hashlib.sha256(expected["first_raw"].rstrip(b"\r")).hexdigest()}
    assert first["crawled_at"] == "2024-02-17T18:21:45.800126+00:00"


def write_gz(path: Path, lines: list[str]) -> Path:
    with gzip.open(path, "wt", encoding="utf-8", newline="") as handle:
        handle.write("".join(line + "\r\n" for line in lines))
    return path


@pytest.fixture(scope="module")
def real_lines(history: Path) -> list[str]:
    """Header and the first 400 data lines of the real file (2024-02-17 to 2024-02-20)."""
    with gzip.open(history, "rt", encoding="utf-8", newline="") as handle:
        return [handle.readline().rstrip("\r\n") for _ in range(401)]


def test_broken_rows_are_quarantined_in_their_partition(real_lines, tmp_path):
    header, data = real_lines[0], real_lines[1:]
    assert header == ",".join(COLUMNS)
    bad = [data[0].replace(",5490,", ",54.90,"),
           data[1].replace("B0CHVXW6FV", "b0chvxw6fv"),
           "2024-02-17T25:00:00+0000,B0BXSKY533,5490,JPY,AnkerDirect,,,x",
           data[2].replace(",JPY,", ",yen,"),
           "B0BXSKY533,5490"]
    path = write_gz(tmp_path / "obs.csv.gz", [header, *bad, *data])

    partitions = list(price_history_batches(path, products_path=tmp_path / "none.csv"))

    assert [key for key, _, _ in partitions] == ["2024-02-17", "2024-02-18", "2024-02-19",
                                                 "2024-02-20"]
    day, records, quarantine = partitions[0]
    reasons = {q["url"].rpartition("#")[2]: q["reason"] for q in quarantine}
    assert reasons == {
        "2": "price: not a whole yen amount ('54.90')",
        "3": "asin: not a 10-character ASIN ('b0chvxw6fv')",
        "4": "crawled_at: not ISO-8601 with a UTC offset ('2024-02-17T25:00:00+0000')",
        "5": "currency: not an ISO 4217 code ('yen')",
        "6": "row: 2 cells, expected 8"}
    assert all(q["url"].startswith(f"file://{path}#") and q["stage"] == "intake"
               for q in quarantine)
    assert quarantine[0]["record_json"] == bad[0] and quarantine[0]["product_id"] == "B0BXSKY533"
    assert sum(len(r) + len(q) for _, r, q in partitions) == len(bad) + len(data)
    assert all(r["title"] is None for r in records)


def test_unsorted_file_is_refused(real_lines, tmp_path):
    path = write_gz(tmp_path / "obs.csv.gz", [real_lines[0], real_lines[-1], real_lines[1]])
    with pytest.raises(ValueError, match="not sorted by timestamp"):
        list(price_history_batches(path))
