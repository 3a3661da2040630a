"""Hash-chained logs (commons.hash_chain, chain_checkpoint, chain_writer, chain_verify) on real
files with real Ed25519 keys: an intact log verifies, every kind of tampering is named at its line."""

from __future__ import annotations

import json
import multiprocessing
from pathlib import Path

import pytest

from commons.chain_checkpoint import is_checkpoint
from commons.chain_verify import chained_logs, verify_file, verify_folder
from commons.chain_writer import HEAD_FILE, ChainWriter
from commons.hash_chain import GENESIS, canonical, line_hash, seal
from commons.token_keys import jwks_path, rotate_keys, trusted_keys

DAYS = ("decisions-20261129.jsonl", "decisions-20261130.jsonl")


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    """``(signing key, trusted keys of its JWKS, trusted keys of another JWKS)``."""
    root = tmp_path_factory.mktemp("keys")
    key = rotate_keys(root / "ours")
    rotate_keys(root / "theirs")
    return key, trusted_keys(jwks_path(root / "ours")), trusted_keys(jwks_path(root / "theirs"))


def write_log(folder: Path, key, n: int = 12, every: int = 5) -> Path:
    """A two-day log of ``n`` records (6 on the first day), a checkpoint every ``every`` lines
    and a stop checkpoint: lines 1-7 in the first file (6 records, 1 checkpoint), 8-15 in the second."""
    writer = ChainWriter(folder, key, every)
    for i in range(n):
        writer.append([{"ts": f"t{i}", "i": i, "text": "ünïcode ✓"}], DAYS[i >= 6])
    writer.checkpoint("stop")
    return folder


def lines_of(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines(keepends=True)


def rewrite(path: Path, lines: list[str]) -> None:
    path.write_text("".join(lines), encoding="utf-8")


def test_canonical_bytes_and_the_link_of_each_line():
    assert canonical({"b": 1, "a": "é"}) == '{"a":"é","b":1}'.encode("utf-8")
    first = seal({"x": 1}, GENESIS, 1)
    second = seal({"x": 2}, first["hash"], 2)
    assert first["prev"] == GENESIS and second["prev"] == first["hash"]
    assert first["hash"] == line_hash(first) == line_hash({**first, "hash": "whatever"})
    with pytest.raises(ValueError, match="may not carry hash"):
        seal({"hash": "forged"}, GENESIS, 1)
    with pytest.raises(ValueError):
        canonical({"score": float("nan")})


def test_an_intact_log_verifies_and_the_chain_runs_across_files(keys, tmp_path):
    key, trusted, _ = keys
    log = write_log(tmp_path / "log", key)
    first, second = (json.loads(line) for line in (lines_of(log / DAYS[0])[-1], lines_of(log / DAYS[1])[0]))
    assert second["prev"] == first["hash"] and second["seq"] == first["seq"] + 1
    report = verify_folder(log, trusted)
    assert report.fault is None
    assert (report.lines, report.checkpoints, report.signed, report.unsigned) == (15, 3, 3, 0)
    head = json.loads((log / HEAD_FILE).read_text())
    assert is_checkpoint(head) and head["checkpoint"]["reason"] == "stop" and head["seq"] == 15
    assert head["checkpoint"]["kid"] == key.kid and head["checkpoint"]["lines"] == 14
    # Each file alone: the second links to the first file's last line and meets chain-head.json.
    assert verify_file(log / DAYS[0], trusted).fault is None
    assert verify_file(log / DAYS[1], trusted).fault is None
    # Without a JWKS the chain is still checked; signatures are counted as unchecked.
    assert verify_folder(log).unchecked == 3


def edit(log):
    path = log / DAYS[0]
    lines = lines_of(path)
    lines[2] = lines[2].replace('"i":2', '"i":99')
    rewrite(path, lines)


def delete(log):
    path = log / DAYS[0]
    lines = lines_of(path)
    del lines[2]
    rewrite(path, lines)


def insert_forged(log):
    # A well-formed line chained onto line 2 with a correct hash of its own.
    first = lines_of(log / DAYS[0])
    insert(log, 2, json.dumps(seal({"ts": "t2", "i": 2, "text": "forged"}, json.loads(first[1])["hash"], 3)))


def insert_plain(log):
    insert(log, 3, '{"ts": "t3", "i": 3}')


def insert(log, at: int, text: str):
    path = log / DAYS[0]
    rewrite(path, lines_of(path)[:at] + [text + "\n"] + lines_of(path)[at:])


def reorder(log):
    path = log / DAYS[0]
    lines = lines_of(path)
    lines[1], lines[2] = lines[2], lines[1]
    rewrite(path, lines)


def replay(log):
    path = log / DAYS[1]
    rewrite(path, lines_of(path) + lines_of(log / DAYS[0])[1:2])


def cut_tail(log):
    path = log / DAYS[1]
    rewrite(path, lines_of(path)[:-2])


def tear_last(log):
    path = log / DAYS[1]
    path.write_bytes(path.read_bytes()[:-20])


def drop_first_file(log):
    (log / DAYS[0]).unlink()


def drop_last_file(log):
    (log / DAYS[1]).unlink()


def drop_head_file(log):
    (log / HEAD_FILE).unlink()
    cut_tail(log)


def rehash_edit(log):
    # An editor who recomputes the edited line's hash and every later one: the chain holds, the
    # checkpoints after the edit no longer verify.
    lines = [json.loads(line) for day in DAYS for line in lines_of(log / day)]
    lines[8]["i"] = 999
    for i in range(8, len(lines)):
        lines[i]["prev"] = lines[i - 1]["hash"]
        if is_checkpoint(lines[i]):
            lines[i]["checkpoint"]["head"] = lines[i]["prev"]
        lines[i]["hash"] = line_hash(lines[i])
    rewrite(log / DAYS[0], [canonical(line).decode() + "\n" for line in lines[:7]])
    rewrite(log / DAYS[1], [canonical(line).decode() + "\n" for line in lines[7:]])
    (log / HEAD_FILE).write_text(canonical(lines[-1]).decode() + "\n")


def empty_every_file(log):
    for day in DAYS:
        (log / day).write_bytes(b"")


def drop_every_file(log):
    for day in DAYS:
        (log / day).unlink()


def duplicate_key(log):
    # Python's reader keeps the last "i", the hash covers it; a first-value reader would see 99.
    path = log / DAYS[0]
    lines = lines_of(path)
    lines[2] = lines[2].replace('{', '{"i":99,', 1)
    rewrite(path, lines)


def respace(log):
    path = log / DAYS[0]
    lines = lines_of(path)
    lines[2] = lines[2].replace('","', '", "', 1)
    rewrite(path, lines)


@pytest.mark.parametrize("tamper, day, line, kind", [
    (edit, 0, 3, "edited"),
    (delete, 0, 3, "deleted"),
    (insert_forged, 0, 3, "inserted"),
    (insert_plain, 0, 4, "inserted"),
    (reorder, 0, 2, "reordered"),
    (replay, 1, 9, "inserted"),
    (cut_tail, 1, 7, "truncated"),
    (tear_last, 1, 8, "truncated"),
    (drop_first_file, 1, 1, "deleted"),
    (drop_last_file, 0, 8, "truncated"),
    (drop_head_file, 1, 6, "truncated"),
    (rehash_edit, 1, 4, "bad_signature"),
    (empty_every_file, 0, 1, "truncated"),
    (duplicate_key, 0, 3, "edited"),
    (respace, 0, 3, "edited"),
], ids=lambda v: v.__name__ if callable(v) else None)
def test_each_kind_of_tampering_is_named_at_its_first_bad_line(keys, tmp_path, tamper, day, line, kind):
    key, trusted, _ = keys
    log = write_log(tmp_path / "log", key)
    tamper(log)
    fault = verify_folder(log, trusted).fault
    assert fault is not None
    assert (fault.path.name, fault.line, fault.kind) == (DAYS[day], line, kind), str(fault)


def test_a_log_whose_files_are_all_deleted_is_found_and_truncated(keys, tmp_path):
    """Its chain-head.json remains: a log cut to nothing, not a folder to pass over."""
    key, trusted, _ = keys
    log = write_log(tmp_path / "state" / "log", key)
    drop_every_file(log)
    assert chained_logs(tmp_path / "state") == [log]
    fault = verify_folder(log, trusted).fault
    assert (fault.path.name, fault.kind) == (HEAD_FILE, "truncated")
    assert "written as line 15" in fault.message


def test_a_checkpoint_signed_by_a_key_the_jwks_does_not_hold_is_untrusted(keys, tmp_path):
    key, _, theirs = keys
    fault = verify_folder(write_log(tmp_path / "log", key), theirs).fault
    assert (fault.path.name, fault.line, fault.kind) == (DAYS[0], 6, "untrusted_key")


def test_a_forged_signature_is_bad(keys, tmp_path):
    key, trusted, _ = keys
    log = write_log(tmp_path / "log", key)
    lines = [json.loads(line) for line in lines_of(log / DAYS[0])]
    body = lines[5]["checkpoint"]
    body["sig"] = body["sig"][:-4] + ("AAAA" if not body["sig"].endswith("AAAA") else "BBBB")
    lines[5]["hash"] = line_hash(lines[5])
    lines[6]["prev"] = lines[5]["hash"]
    lines[6]["hash"] = line_hash(lines[6])
    rewrite(log / DAYS[0], [canonical(line).decode() + "\n" for line in lines])
    fault = verify_folder(log, trusted).fault
    assert (fault.line, fault.kind) == (6, "bad_signature")


def test_a_writer_without_a_key_still_chains_with_unsigned_checkpoints(keys, tmp_path):
    _, trusted, _ = keys
    log = write_log(tmp_path / "log", None)
    report = verify_folder(log, trusted)
    assert report.fault is None and (report.checkpoints, report.unsigned, report.signed) == (3, 3, 0)
    fault = verify_folder(log, trusted, require_signed=True).fault
    assert (fault.line, fault.kind) == (6, "unsigned")
    # no keys at hand does not make an unsigned checkpoint acceptable
    assert verify_folder(log, None).fault is None
    fault = verify_folder(log, None, require_signed=True).fault
    assert (fault.line, fault.kind) == (6, "unsigned")
    edit(log)
    assert verify_folder(log, trusted).fault.kind == "edited"


def _append_from_another_process(folder: str, start: int) -> None:
    writer = ChainWriter(Path(folder), None, 1000)
    for i in range(start, start + 40):
        writer.append([{"i": i}], DAYS[1])


def test_two_processes_appending_to_one_log_keep_one_chain(tmp_path):
    # The demo's edge and central pods share a decision log folder.
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_append_from_another_process, args=(str(tmp_path / "log"), s)) for s in (0, 1000)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(60)
    assert [p.exitcode for p in procs] == [0, 0]
    report = verify_folder(tmp_path / "log")
    assert report.fault is None and report.lines == 80


def test_a_torn_line_left_by_a_crash_is_reported_and_writing_goes_on_after_it(tmp_path):
    log = tmp_path / "log"
    ChainWriter(log, None).append([{"i": 1}, {"i": 2}], DAYS[0])
    path = log / DAYS[0]
    path.write_bytes(path.read_bytes() + b'{"hash":"ab')  # the crash
    ChainWriter(log, None).append([{"i": 3}], DAYS[0])
    assert json.loads(lines_of(path)[-1])["i"] == 3
    fault = verify_folder(log).fault
    assert (fault.line, fault.kind) == (3, "truncated")


@pytest.mark.parametrize("cut", [b"", b'{"hash":"cd'])
def test_a_writer_that_crashed_chaining_past_a_torn_line_can_write_again(tmp_path, cut):
    """The restarted writer's ``"\n" + records`` was cut after its newline (``cut``: nothing, or part
    of a record), so the file's last complete line is the torn one: the next writer chains on from
    the last whole line before it."""
    log = tmp_path / "log"
    ChainWriter(log, None).append([{"i": 1}, {"i": 2}], DAYS[0])
    path = log / DAYS[0]
    path.write_bytes(path.read_bytes() + b'{"hash":"ab' + b"\n" + cut)  # two crashes
    ChainWriter(log, None).append([{"i": 3}], DAYS[0])
    last = json.loads(lines_of(path)[-1])
    assert (last["i"], last["seq"]) == (3, 3)
    fault = verify_folder(log).fault
    assert (fault.line, fault.kind) == (3, "truncated")


def test_writes_never_go_back_to_an_earlier_file(tmp_path):
    writer = ChainWriter(tmp_path / "log", None)
    writer.append([{"i": 1}], DAYS[1])
    writer.append([{"i": 2}], DAYS[0])  # stamped just before midnight, written after
    assert not (tmp_path / "log" / DAYS[0]).exists()
    assert verify_folder(tmp_path / "log").fault is None


def test_plain_jsonl_folders_are_not_taken_for_chained_logs(keys, tmp_path):
    write_log(tmp_path / "state" / "decision_log" / "negative_review", keys[0])
    (tmp_path / "state" / "crawls").mkdir(parents=True)
    (tmp_path / "state" / "crawls" / "items.jsonl").write_text('{"url": "x"}\n')
    assert chained_logs(tmp_path / "state") == [tmp_path / "state" / "decision_log" / "negative_review"]
