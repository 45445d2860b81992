"""What `mesh audit verify` reports, word for word: a log rolled back to an older signed head, whatever is
left of a deleted log (only a mesh that never recorded anything verifies empty), unreadable lines, a
forged head and a replaced key, each said once with how many more alike."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from meshwork.core import audit

NO_KEY = "there is no public key to check the signed checkpoints with (it was deleted)"


def record(n: int) -> Path:
    for i in range(n):
        audit.record("port.read", consumer="finance/daily_revenue", port="sales/orders@v1", snapshot=f"s{i}")
    return audit.log_path()


def lines(path: Path) -> list[str]:
    return path.read_text().splitlines()


def write(path: Path, rows: list[str]) -> None:
    path.write_text("".join(row + "\n" for row in rows))


def missing_log() -> str:
    return f"the audit log {audit.log_path()} is missing (it was deleted)"


def missing_key() -> str:
    return f"the signing key {audit.governance_file(audit.KEY)} is missing (it was deleted)"


def missing_checkpoints(lines: int) -> str:
    path = audit.governance_file(audit.CHECKPOINTS)
    return f"{path} is missing (it was deleted), but the log has {lines} lines for its checkpoints to cover"


MISSING = {
    "<missing log>": missing_log,
    "<missing key>": missing_key,
    "<missing checkpoints>": lambda: missing_checkpoints(3),
}


def test_a_log_rolled_back_to_an_older_signed_head_is_caught_by_the_later_checkpoints():
    log = record(7)
    checkpoints = lines(audit.governance_file(audit.CHECKPOINTS))
    # The last two lines dropped and the head put back to the genuine, validly signed head of line 5.
    write(log, lines(log)[:5])
    audit.governance_file(audit.HEAD).write_text(checkpoints[4])
    assert audit.verify() == [
        "checkpoint 6 covers line 6, but the log ends at line 5 (its end was removed) (and 1 more checkpoint)"
    ]
    assert audit.authenticated()[1] == 5  # what is left is still proven


def test_a_record_interrupted_before_its_line_is_not_mistaken_for_a_rollback():
    record(5)
    key = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(audit.governance_file(audit.KEY).read_text()))
    checkpoints = audit.governance_file(audit.CHECKPOINTS)
    with checkpoints.open("a") as f:  # signed line 6, killed before writing it
        f.write(audit.sign(key, 6, "f" * 64).to_json() + "\n")
    assert audit.verify() == []
    # The same checkpoint followed by another one is no longer in flight: the log lost its line 6.
    with checkpoints.open("a") as f:
        f.write(audit.sign(key, 7, "e" * 64).to_json() + "\n")
    assert audit.verify() == [
        "checkpoint 6 covers line 6, but the log ends at line 5 (its end was removed) (and 1 more checkpoint)"
    ]


def test_a_deleted_log_is_reported_with_what_the_head_and_checkpoints_covered():
    record(5).unlink()
    assert audit.verify() == [
        missing_log(),
        "the signed head covers line 5, but the log is empty (it was emptied or deleted)",
        "checkpoint 1 covers line 1, but the log is empty (it was emptied or deleted) (and 4 more checkpoints)",
    ]


@pytest.mark.parametrize(
    ("kept", "expected"),
    [
        ({"log"}, ["<missing checkpoints>", "<missing key>", NO_KEY]),  # the whole governance folder deleted
        ({audit.CHECKPOINTS}, ["<missing log>", "<missing key>", NO_KEY]),
        ({audit.KEY}, ["<missing log>"]),
        ({audit.HEAD}, ["<missing log>", "<missing key>", NO_KEY]),
    ],
    ids=["log", "checkpoints", "key", "head"],
)
def test_whatever_is_left_of_a_deleted_log_is_reported(kept, expected):
    log = record(3)
    governance = audit.governance_file(audit.KEY).parent
    if "log" not in kept:
        log.unlink()
    for path in governance.iterdir():
        if path.name not in kept:
            path.unlink()
    assert audit.verify() == [MISSING[e]() if e in MISSING else e for e in expected]
    assert audit.authenticated()[1] == 0


def test_a_log_of_one_unreadable_line_and_nothing_else_is_reported():
    record(1)
    shutil.rmtree(audit.governance_file(audit.KEY).parent)
    audit.log_path().write_text("garbage\n")
    assert audit.verify() == [
        f"{audit.log_path()} line 1: not JSON (Expecting value at column 1)",
        missing_checkpoints(1),
        missing_key(),
        NO_KEY,
    ]


def test_a_checkpoints_file_of_garbage_and_nothing_else_is_reported():
    record(1)
    shutil.rmtree(audit.governance_file(audit.KEY).parent)
    audit.log_path().unlink()
    checkpoints = audit.governance_file(audit.CHECKPOINTS)
    checkpoints.parent.mkdir()
    checkpoints.write_text("nope\n")
    assert audit.verify() == [f"{audit.CHECKPOINTS} line 1: not a checkpoint", missing_log()]


def test_a_mesh_that_never_recorded_verifies_empty():
    assert audit.verify() == [] and audit.authenticated() == ([], 0)


def test_an_unreadable_log_line_comes_first_then_an_unreadable_checkpoint():
    log = record(5)
    rows = lines(log)
    rows[2] = "garbage"
    write(log, rows)
    with audit.governance_file(audit.CHECKPOINTS).open("a") as f:
        f.write("nope\n")
    problems = audit.verify()
    assert problems == [
        f"{log} line 3: not JSON (Expecting value at column 1)",
        f"{audit.CHECKPOINTS} line 6: not a checkpoint",
    ]
    assert audit.authenticated()[1] == 2  # the lines before it are still proven


def test_a_head_whose_signature_does_not_verify_is_reported_as_forged():
    record(5)
    head = audit.governance_file(audit.HEAD)
    head.write_text(json.dumps({**json.loads(head.read_text()), "seq": 3}))
    assert audit.verify() == [
        "the signed head's signature does not verify (the head was forged or the signing key replaced)"
    ]


def test_a_replaced_key_fails_every_checkpoint_said_once_with_the_count():
    record(5)
    key = Ed25519PrivateKey.generate()
    audit.governance_file(audit.PUBLIC_KEY).write_text(key.public_key().public_bytes_raw().hex())
    assert audit.verify() == [
        "the signed head's signature does not verify (the head was forged or the signing key replaced)",
        "checkpoint 1: its signature does not verify (forged, or the signing key was replaced) "
        "(and 4 more checkpoints)",
    ]


def test_one_forged_checkpoint_is_said_without_a_count():
    record(3)
    checkpoints = audit.governance_file(audit.CHECKPOINTS)
    rows = lines(checkpoints)
    rows[1] = json.dumps({**json.loads(rows[1]), "at": "2020-01-01T00:00:00+00:00"})
    write(checkpoints, rows)
    assert audit.verify() == ["checkpoint 2: its signature does not verify (forged, or the signing key was replaced)"]


def test_without_a_public_key_only_an_empty_log_with_no_head_and_no_checkpoints_passes():
    key = Ed25519PrivateKey.generate()
    entry = audit.seal({"action": "port.read"}, audit.GENESIS)
    checkpoint = audit.sign(key, 1, entry["hash"])
    missing = [NO_KEY]
    assert audit.verify_entries([], [], None, None) == []
    assert audit.verify_entries([entry], [], None, None) == missing
    assert audit.verify_entries([], [], checkpoint, None) == missing
    assert audit.verify_entries([], [checkpoint], None, None) == missing
    assert audit.trusted_count([entry], [checkpoint], checkpoint, None) == 0


def test_the_signed_head_alone_proves_the_log_when_the_checkpoints_file_is_lost():
    log = record(5)
    audit.governance_file(audit.CHECKPOINTS).unlink()
    assert audit.authenticated()[1] == 5
    # A line appended after the head is still not proven, and the head still proves the rest.
    forged = audit.seal({"at": "2026-01-01T00:00:00+00:00", "action": "port.read"}, json.loads(lines(log)[-1])["hash"])
    write(log, [*lines(log), json.dumps(forged, sort_keys=True)])
    assert audit.authenticated()[1] == 5
    assert audit.verify() == [
        missing_checkpoints(6),  # lost, so said, though the head alone still proves lines 1 to 5
        "line 6: not covered by a signed checkpoint (appended after the head, or it was rolled back)",
    ]


def test_the_furthest_valid_signature_counts_whether_the_head_or_a_checkpoint():
    key = Ed25519PrivateKey.generate()
    entries, prev = [], audit.GENESIS
    for i in range(3):
        entries.append(audit.seal({"action": "port.read", "i": i}, prev))
        prev = entries[-1]["hash"]
    checkpoints = [audit.sign(key, n, entries[n - 1]["hash"]) for n in (1, 2, 3)]
    public = key.public_key()
    assert audit.trusted_count(entries, [], checkpoints[2], public) == 3  # the head alone
    assert audit.trusted_count(entries, checkpoints[:2], None, public) == 2  # no head: the checkpoints
    assert audit.trusted_count(entries, checkpoints, checkpoints[0], public) == 3  # a later checkpoint beats the head
    assert audit.trusted_count(entries[:2], checkpoints, checkpoints[2], public) == 2  # none past the log's end


def test_two_more_alike_problems_are_counted_in_the_plural():
    record(3)
    key = Ed25519PrivateKey.generate()
    audit.governance_file(audit.PUBLIC_KEY).write_text(key.public_key().public_bytes_raw().hex())
    assert audit.verify()[1] == (
        "checkpoint 1: its signature does not verify (forged, or the signing key was replaced) (and 2 more checkpoints)"
    )


def test_the_first_line_removed_is_detected_and_nothing_is_proven():
    log = record(5)
    write(log, lines(log)[1:])
    assert audit.verify()[0] == "line 1: does not start the chain (a line was removed, inserted or reordered)"
    assert audit.authenticated()[1] == 0


def test_a_line_edited_with_its_hash_recomputed_leaves_only_the_lines_before_it_proven():
    log = record(5)
    rows = lines(log)
    entry = json.loads(rows[1])
    entry["snapshot"] = "forged"
    entry["hash"] = audit.digest(entry)
    rows[1] = json.dumps(entry, sort_keys=True)
    write(log, rows)
    assert audit.verify()[0] == "line 3: does not follow line 2 (a line was removed, inserted or reordered)"
    assert audit.authenticated()[1] == 1  # line 2's own checkpoint no longer matches; lines 3-5 hang off it


def test_a_removed_line_leaves_the_lines_before_it_proven():
    log = record(5)
    rows = lines(log)
    del rows[2]
    write(log, rows)
    assert audit.verify()[0] == "line 3: does not follow line 2 (a line was removed, inserted or reordered)"
    assert audit.authenticated()[1] == 2
