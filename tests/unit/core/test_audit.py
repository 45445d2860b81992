"""The audit log is hash-chained and anchored by signed checkpoints: any edited, removed, reordered,
truncated, emptied, appended or recomputed line is detected, and so is a deleted head or a new key."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from meshwork.core import audit


@pytest.fixture
def log() -> Path:
    for i in range(5):
        audit.record("port.read", consumer="finance/daily_revenue", port="sales/orders@v1", snapshot=f"s{i}")
    return audit.log_path()


def lines(log: Path) -> list[str]:
    return log.read_text().splitlines()


def write(log: Path, rows: list[str]) -> None:
    log.write_text("".join(row + "\n" for row in rows))


def rehashed(rows: list[str], start: int = 0, **changes) -> list[str]:
    """The lines with ``changes`` from line ``start`` on and every hash recomputed, as a forger with no key would."""
    out, prev = rows[:start], json.loads(rows[start - 1])["hash"] if start else audit.GENESIS
    for row in rows[start:]:
        entry = json.loads(row)
        fields = {k: v for k, v in entry.items() if k not in ("prev", "hash")} | changes
        entry = audit.seal(fields, prev)
        out.append(json.dumps(entry, sort_keys=True))
        prev = entry["hash"]
    return out


def test_an_untouched_log_verifies_and_every_line_is_proven(log):
    assert audit.verify() == []
    assert [e["snapshot"] for e in audit.entries("port.read")] == ["s0", "s1", "s2", "s3", "s4"]
    rows, trusted = audit.authenticated()
    assert len(rows) == trusted == 5
    head = audit.Checkpoint.parse(audit.governance_file(audit.HEAD).read_text())
    assert head is not None and head.seq == 5 and head.hash == rows[-1]["hash"]
    assert len(lines(audit.governance_file(audit.CHECKPOINTS))) == 5


def test_the_signing_key_is_private_to_its_owner(log):
    key = audit.governance_file(audit.KEY)
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    public = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(key.read_text().strip())).public_key()
    assert audit.governance_file(audit.PUBLIC_KEY).read_text().strip() == public.public_bytes_raw().hex()


def test_a_middle_line_edited_is_detected(log):
    rows = lines(log)
    entry = json.loads(rows[2])
    entry["consumer"] = "marketing/customer_360"
    rows[2] = json.dumps(entry, sort_keys=True)
    write(log, rows)
    assert audit.verify() == ["line 3: its content does not match its hash (the line was edited)"]
    assert audit.authenticated()[1] == 2


def test_the_last_line_edited_is_detected_with_or_without_its_hash_recomputed(log):
    rows = lines(log)
    entry = json.loads(rows[4])
    entry["snapshot"] = "s9"
    write(log, [*rows[:4], json.dumps(entry, sort_keys=True)])
    assert audit.verify() == ["line 5: its content does not match its hash (the line was edited)"]
    write(log, rehashed(rows, 4, snapshot="s9"))
    problems = audit.verify()
    assert "line 5: its hash differs from the signed head (the log was rewritten and its hashes recomputed)" in problems
    assert audit.authenticated()[1] == 4


def test_a_removed_line_is_detected(log):
    rows = lines(log)
    del rows[1]
    write(log, rows)
    assert audit.verify()[0].startswith("line 2: does not follow line 1")


def test_reordered_lines_are_detected(log):
    rows = lines(log)
    rows[1], rows[2] = rows[2], rows[1]
    write(log, rows)
    assert audit.verify()[0].startswith("line 2: does not follow")


def test_a_rehashed_forgery_still_breaks_the_chain_after_it(log):
    rows = lines(log)
    entry = json.loads(rows[1])
    entry["snapshot"] = "forged"
    entry["hash"] = audit.digest(entry)  # the forger recomputes this line's hash…
    rows[1] = json.dumps(entry, sort_keys=True)
    write(log, rows)
    assert audit.verify()[0].startswith("line 3: does not follow")  # …but the next line still points at the old one


@pytest.mark.parametrize("dropped", [1, 2])
def test_dropping_the_last_lines_is_detected(log, dropped):
    write(log, lines(log)[:-dropped])
    problems = audit.verify()
    assert f"the signed head covers line 5, but the log ends at line {5 - dropped} (its end was removed)" in problems


def test_an_emptied_log_is_detected(log):
    log.write_text("")
    assert "the signed head covers line 5, but the log is empty (it was emptied or deleted)" in audit.verify()
    assert audit.authenticated() == ([], 0)


def test_a_deleted_log_is_detected(log):
    log.unlink()
    problems = audit.verify()
    assert any("is missing (it was deleted)" in p for p in problems)
    assert "the signed head covers line 5, but the log is empty (it was emptied or deleted)" in problems


def test_a_line_appended_with_a_correct_hash_is_not_covered_by_a_signed_checkpoint(log):
    rows = lines(log)
    forged = audit.seal({"at": "2026-01-01T00:00:00+00:00", "action": "port.read"}, json.loads(rows[-1])["hash"])
    write(log, [*rows, json.dumps(forged, sort_keys=True)])
    assert audit.verify() == [
        "line 6: not covered by a signed checkpoint (appended after the head, or it was rolled back)"
    ]
    assert audit.authenticated()[1] == 5


def test_a_record_after_tampering_is_not_signed_so_the_tampering_stays_visible(log):
    rows = lines(log)
    forged = audit.seal({"at": "2026-01-01T00:00:00+00:00", "action": "port.read"}, json.loads(rows[-1])["hash"])
    write(log, [*rows, json.dumps(forged, sort_keys=True)])
    audit.record("port.read", consumer="finance/daily_revenue", port="sales/orders@v1", snapshot="s6")
    assert audit.verify() == [
        "line 6 to 7: not covered by a signed checkpoint (appended after the head, or it was rolled back)"
    ]
    assert audit.authenticated()[1] == 5


def test_a_wholly_recomputed_chain_does_not_match_the_signed_checkpoints(log):
    write(log, rehashed(lines(log), consumer="marketing/customer_360"))
    problems = audit.verify()
    assert "line 5: its hash differs from the signed head (the log was rewritten and its hashes recomputed)" in problems
    assert any(p.startswith("line 1: its hash differs from checkpoint 1") for p in problems)  # where it starts
    assert audit.authenticated()[1] == 0


def test_a_deleted_head_is_detected_and_not_re_signed_by_the_next_record(log):
    audit.governance_file(audit.HEAD).unlink()
    assert audit.verify() == [
        "there is no signed head: nothing shows that the log was not truncated, rewritten or appended to "
        "(the head was deleted)"
    ]
    audit.record("port.read", consumer="finance/daily_revenue", port="sales/orders@v1", snapshot="s6")
    assert any("there is no signed head" in p for p in audit.verify())


def test_a_forged_head_is_detected(log):
    head = audit.governance_file(audit.HEAD)
    raw = json.loads(head.read_text())
    head.write_text(json.dumps({**raw, "seq": 3}))
    assert "the signed head's signature does not verify" in audit.verify()[0]
    head.write_text("{}")
    assert any(p.startswith(f"{audit.HEAD} is not a signed checkpoint") for p in audit.verify())


def test_a_replaced_signing_key_is_detected(log):
    key = Ed25519PrivateKey.generate()
    audit.governance_file(audit.KEY).write_text(key.private_bytes_raw().hex())
    audit.governance_file(audit.PUBLIC_KEY).write_text(key.public_key().public_bytes_raw().hex())
    problems = audit.verify()
    assert "the signed head's signature does not verify" in problems[0]
    assert any(p.startswith("checkpoint 1 (and 4 more") or "checkpoint 1: its signature" in p for p in problems)
    assert audit.authenticated()[1] == 0


def test_a_log_re_signed_with_a_new_key_fails_against_the_pinned_public_key(log):
    pinned = audit.public_key()
    # Whoever can write MESH_HOME rewrites the log and signs it all again with a key of their own.
    for path in (audit.governance_file(name) for name in (audit.KEY, audit.PUBLIC_KEY, audit.HEAD, audit.CHECKPOINTS)):
        path.unlink()
    rows = rehashed(lines(log), consumer="marketing/customer_360")
    log.unlink()
    audit.record("warm")  # a fresh key and head…
    write(log, rows)
    key = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(audit.governance_file(audit.KEY).read_text()))
    head = audit.sign(key, 5, json.loads(rows[-1])["hash"])
    audit.governance_file(audit.HEAD).write_text(head.to_json())
    audit.governance_file(audit.CHECKPOINTS).write_text(head.to_json() + "\n")
    assert audit.verify() == []  # …passes against the key beside it: the limit of local mode
    assert pinned is not None
    problems = audit.verify(pinned)
    assert f"{audit.PUBLIC_KEY} is not the pinned public key (the signing key was replaced)" in problems


def test_a_deleted_public_key_is_detected(log):
    audit.governance_file(audit.PUBLIC_KEY).unlink()
    assert audit.verify() == ["there is no public key to check the signed checkpoints with (it was deleted)"]


def test_everything_deleted_but_the_key_is_detected(log):
    for path in (log, audit.governance_file(audit.HEAD), audit.governance_file(audit.CHECKPOINTS)):
        path.unlink()
    audit.record("port.read", consumer="finance/daily_revenue", port="sales/orders@v1", snapshot="s9")
    assert any("there is no signed head" in p for p in audit.verify())


def test_a_log_from_before_signed_checkpoints_is_anchored_by_its_first_record():
    log = audit.log_path()
    log.parent.mkdir(parents=True)
    write(log, rehashed([json.dumps({"at": "2025-01-01", "action": "port.read", "i": i}) for i in range(3)]))
    audit.record("port.read", i=3)
    assert audit.verify() == []
    assert audit.authenticated()[1] == 4


def test_a_record_interrupted_between_its_checkpoint_and_its_line_is_not_reported(log):
    checkpoints = audit.governance_file(audit.CHECKPOINTS)
    key = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(audit.governance_file(audit.KEY).read_text()))
    with checkpoints.open("a") as f:  # killed after signing line 6, before writing it
        f.write(audit.sign(key, 6, "f" * 64).to_json() + "\n")
    assert audit.verify() == []
    audit.record("port.read", snapshot="s5")  # the next record signs line 6 again
    assert audit.verify() == [] and audit.authenticated()[1] == 6


def test_a_record_interrupted_before_it_replaced_the_head_is_carried_on(log):
    head = audit.governance_file(audit.HEAD)
    before = head.read_text()
    audit.record("port.read", snapshot="s5")
    head.write_text(before)  # killed after writing line 6, before replacing the head
    assert audit.verify()[0].startswith("line 6: not covered")
    audit.record("port.read", snapshot="s6")
    assert audit.verify() == [] and audit.authenticated()[1] == 7


def test_the_chain_functions_need_no_files():
    key = Ed25519PrivateKey.generate()
    entries, prev = [], audit.GENESIS
    for i in range(3):
        entries.append(audit.seal({"action": "port.read", "i": i}, prev))
        prev = entries[-1]["hash"]
    checkpoints = [audit.sign(key, n, entries[n - 1]["hash"]) for n in (1, 2, 3)]
    public = key.public_key()
    assert audit.verify_entries(entries, checkpoints, checkpoints[-1], public) == []
    assert audit.trusted_count(entries, checkpoints, checkpoints[-1], public) == 3
    assert audit.verify_entries(entries[:2], checkpoints, checkpoints[-1], public)[0] == (
        "the signed head covers entry 3, but the log ends at entry 2 (its end was removed)"
    )
    other = Ed25519PrivateKey.generate().public_key()
    assert audit.trusted_count(entries, checkpoints, checkpoints[-1], other) == 0
    assert audit.Checkpoint.parse(checkpoints[0].to_json()) == checkpoints[0]


def test_mesh_audit_verify_exits_1_on_tampering_and_lists_entries(log):
    from tests.conftest import mesh_cli

    ok = mesh_cli("audit", "verify", "--json")
    assert ok.returncode == 0 and json.loads(ok.stdout)["entries"] == 5
    pinned = audit.governance_file(audit.PUBLIC_KEY).read_text().strip()
    assert mesh_cli("audit", "verify", "--public-key", pinned).returncode == 0
    other = Ed25519PrivateKey.generate().public_key().public_bytes_raw().hex()
    assert mesh_cli("audit", "verify", "--public-key", other).returncode == 1
    assert mesh_cli("audit", "verify", "--public-key", "nothex").returncode == 2
    listed = mesh_cli("audit", "list", "--action", "port.read", "--json")
    assert [e["snapshot"] for e in json.loads(listed.stdout)] == ["s0", "s1", "s2", "s3", "s4"]
    write(log, lines(log)[:-1])
    bad = mesh_cli("audit", "verify")
    assert bad.returncode == 1 and "the signed head covers line 5, but the log ends at line 4" in bad.stdout
