"""Damage the audit log's verification names and looks past: an unreadable line in the middle of the log is
reported with its file, number and why, and the lines after it are still checked (the log is not taken to
end there; a record after an unreadable last line still goes in); a deleted or emptied checkpoints file, a
deleted head and a deleted signing key are each reported with the file. `mesh audit verify` on the same
damage: tests/unit/core/test_audit_verify_cli.py."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from meshwork.core import audit, audit_lines

NO_HEAD = (
    "there is no signed head: nothing shows that the log was not truncated, rewritten or appended to "
    "(the head was deleted)"
)


@pytest.fixture
def log() -> Path:
    for i in range(5):
        audit.record("port.read", consumer="finance/daily_revenue", port="sales/orders@v1", snapshot=f"s{i}")
    return audit.log_path()


def lines(path: Path) -> list[str]:
    return path.read_text().splitlines()


def write(path: Path, rows: list[str]) -> None:
    path.write_text("".join(row + "\n" for row in rows))


def damaged(log: Path, number: int, text: str) -> None:
    rows = lines(log)
    rows[number - 1] = text
    write(log, rows)


def edited(row: str, **changes) -> str:
    return json.dumps({**json.loads(row), **changes}, sort_keys=True)


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("garbage", "not JSON (Expecting value at column 1)"),
        ('{"action": "port.read", "prev": ', "not JSON (Expecting value at column 33)"),
        ("[1, 2]", "not an audit entry (JSON, but not an object)"),
        ('{"action": "port.read", "snapshot": "s2"}', "not an audit entry (its prev, hash missing or not text)"),
        ('{"action": "port.read", "prev": 1, "hash": null}', "not an audit entry (its prev, hash missing or not text)"),
        ("", "not JSON (Expecting value at column 1)"),
    ],
    ids=["text", "cut-json", "array", "fields-missing", "fields-not-text", "blank"],
)
def test_an_unreadable_middle_line_is_named_and_the_log_is_not_said_to_end_there(log, text, why):
    damaged(log, 3, text)
    assert audit.verify() == [f"{log} line 3: {why}"]
    rows, trusted = audit.authenticated()
    assert len(rows) == 5 and rows[2] == {} and rows[4]["snapshot"] == "s4"  # every line after it is still read
    assert trusted == 2  # only the lines before it are proven
    assert [e["snapshot"] for e in audit.entries("port.read")] == ["s0", "s1", "s3", "s4"]


def test_a_line_edited_after_an_unreadable_one_is_still_reported(log):
    rows = lines(log)
    rows[1], rows[3] = "garbage", edited(rows[3], consumer="marketing/customer_360")
    write(log, rows)
    assert audit.verify() == [
        f"{log} line 2: not JSON (Expecting value at column 1)",
        "line 4: its content does not match its hash (the line was edited)",
    ]


def test_a_line_removed_after_an_unreadable_one_is_still_reported(log):
    rows = lines(log)
    rows[1] = "garbage"
    del rows[3]
    write(log, rows)
    problems = audit.verify()
    assert problems[:2] == [
        f"{log} line 2: not JSON (Expecting value at column 1)",
        "line 4: does not follow line 3 (a line was removed, inserted or reordered)",
    ]


def test_the_last_line_recomputed_after_an_unreadable_one_does_not_match_the_signed_head(log):
    rows = lines(log)
    last = {k: v for k, v in json.loads(rows[4]).items() if k != "hash"} | {"consumer": "marketing/customer_360"}
    rows[1], rows[4] = "garbage", json.dumps(audit.seal(last, last["prev"]), sort_keys=True)
    write(log, rows)
    assert audit.verify() == [
        f"{log} line 2: not JSON (Expecting value at column 1)",
        "line 5: its hash differs from the signed head (the log was rewritten and its hashes recomputed)",
        "line 5: its hash differs from checkpoint 5 (the log was rewritten and its hashes recomputed)",
    ]


def test_a_line_appended_after_an_unreadable_one_is_not_covered(log):
    rows = lines(log)
    forged = audit.seal({"at": "2026-01-01T00:00:00+00:00", "action": "port.read"}, json.loads(rows[-1])["hash"])
    rows[2] = "garbage"
    write(log, [*rows, json.dumps(forged, sort_keys=True)])
    assert audit.verify() == [
        f"{log} line 3: not JSON (Expecting value at column 1)",
        "line 6: not covered by a signed checkpoint (appended after the head, or it was rolled back)",
    ]


def test_several_unreadable_lines_are_said_once_with_the_count(log):
    intact = lines(log)
    write(log, [intact[0], "garbage", "[]", "garbage", intact[4]])
    assert audit.verify() == [f"{log} line 2: not JSON (Expecting value at column 1) (and 2 more unreadable lines)"]
    write(log, [intact[0], "garbage", intact[2], "garbage", intact[4]])
    assert audit.verify() == [f"{log} line 2: not JSON (Expecting value at column 1) (and 1 more unreadable line)"]


def test_a_revocation_after_an_unreadable_line_is_still_read(log):
    # A decision after the damage still counts as a decision (a later revoke wins even unproven).
    audit.record("access.revoke", request="r1", by="dpo")
    damaged(log, 3, "garbage")
    rows, trusted = audit.authenticated()
    assert trusted == 2 and rows[5]["action"] == "access.revoke" and rows[5]["request"] == "r1"


# -- the governance files ------------------------------------------------------------------------------


def test_an_untouched_log_verifies_clean_with_every_file_in_place(log):
    assert audit.verify() == []
    rows, trusted = audit.authenticated()
    assert len(rows) == trusted == 5 and [r["snapshot"] for r in rows] == ["s0", "s1", "s2", "s3", "s4"]


def test_a_deleted_checkpoints_file_is_reported(log):
    path = audit.governance_file(audit.CHECKPOINTS)
    path.unlink()
    expected = f"{path} is missing (it was deleted), but the log has 5 lines for its checkpoints to cover"
    assert audit.verify() == [expected]
    assert audit.authenticated()[1] == 5  # the signed head alone still proves the log


def test_an_emptied_checkpoints_file_is_reported(log):
    path = audit.governance_file(audit.CHECKPOINTS)
    path.write_text("")
    assert audit.verify() == [
        f"{path} holds no checkpoint (it was emptied), but the log has 5 lines for its checkpoints to cover"
    ]


def test_a_checkpoints_file_of_garbage_is_reported_line_by_line_and_as_holding_none(log):
    path = audit.governance_file(audit.CHECKPOINTS)
    path.write_text("nope\n")
    assert audit.verify() == [
        f"{audit.CHECKPOINTS} line 1: not a checkpoint",
        f"{path} holds no checkpoint (it was emptied), but the log has 5 lines for its checkpoints to cover",
    ]


def test_a_deleted_head_is_reported(log):
    audit.governance_file(audit.HEAD).unlink()
    assert audit.verify() == [NO_HEAD]


def test_a_deleted_signing_key_is_reported_and_so_is_the_new_key_the_next_record_makes(log):
    key = audit.governance_file(audit.KEY)
    key.unlink()
    assert audit.verify() == [f"the signing key {key} is missing (it was deleted)"]
    assert audit.authenticated()[1] == 5  # the public key beside it still checks what was signed
    # The next record makes a new key (and public key): it cannot sign on from the old head, and says so.
    audit.record("port.read", snapshot="s5")
    problems = audit.verify()
    assert problems[0] == (
        "the signed head's signature does not verify (the head was forged or the signing key replaced)"
    )
    assert audit.authenticated()[1] == 0


def test_a_middle_line_of_bytes_that_are_not_utf8_is_named_and_the_rest_still_read(log):
    rows = log.read_bytes().splitlines()
    rows[2] = b"\xff\xfe\x00garbage"
    log.write_bytes(b"".join(row + b"\n" for row in rows))
    assert audit.verify() == [f"{log} line 3: not JSON (Expecting value at column 1)"]
    assert [e["snapshot"] for e in audit.entries("port.read")] == ["s0", "s1", "s3", "s4"]
    assert audit.authenticated()[1] == 2


def test_an_unreadable_last_line_is_named_and_later_records_go_in_unsigned(log):
    damaged(log, 5, "garbage")
    assert audit.verify() == [f"{log} line 5: not JSON (Expecting value at column 1)"]
    entry = audit.record("port.read", snapshot="s5")  # a port read is still recorded, not failed by the damage
    assert json.loads(lines(log)[5]) == entry and entry["hash"] == audit.digest(entry)
    assert entry["prev"] == hashlib.sha256(b"garbage").hexdigest()  # chained to the damaged line as found
    assert audit.verify() == [
        f"{log} line 5: not JSON (Expecting value at column 1)",
        "line 6: not covered by a signed checkpoint (appended after the head, or it was rolled back)",
    ]
    assert audit.authenticated()[1] == 4


# -- the two readers the record path relies on, on lines as found (mutation testing) -----------------------


@pytest.mark.parametrize("line", [b"not an entry, trailing blanks  ", b"not an entry, ends in X", b"\xff\xfe\x00"])
def test_the_last_line_is_read_exactly_as_found_and_hashed_as_found(tmp_path: Path, line: bytes):
    log = tmp_path / "audit.jsonl"
    log.write_bytes(b'{"action": "a", "prev": "", "hash": "h1"}\n' + line + b"\n")
    with log.open("rb") as f:
        assert audit_lines.last(f) == line
    # Not an entry (not even text): the next record chains to the SHA-256 of its bytes, and nothing raises.
    assert audit_lines.hash_of(line) == hashlib.sha256(line).hexdigest()


def test_the_last_line_of_a_log_longer_than_one_read_is_found(tmp_path: Path):
    log = tmp_path / "audit.jsonl"
    long_entry = json.dumps({"action": "a", "prev": "", "hash": "h1", "pad": "x" * 300_000}).encode()
    log.write_bytes(long_entry + b"\n" + b'{"action": "b", "prev": "h1", "hash": "h2"}\n')
    with log.open("rb") as f:
        assert audit_lines.hash_of(audit_lines.last(f) or b"") == "h2"
    log.write_bytes(b"first\n" + long_entry + b"\n")  # the last line itself longer than the first read
    with log.open("rb") as f:
        assert audit_lines.last(f) == long_entry
