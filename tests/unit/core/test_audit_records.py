"""What one `audit.record` writes: the entry as returned, chained and signed, whatever its size or the types
of its values; and when the signing key or public key is not what the log was signed with, the record
goes in unsigned so that the tampering stays visible."""

from __future__ import annotations

import json
import stat
from datetime import UTC, date, datetime

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from meshwork.core import audit

NO_KEY = "there is no public key to check the signed checkpoints with (it was deleted)"


def logged() -> list[dict]:
    return [json.loads(line) for line in audit.log_path().read_text().splitlines()]


def test_a_record_returns_the_entry_it_wrote_chained_to_the_one_before():
    first = audit.record("port.read", consumer="finance/daily_revenue", port="sales/orders@v1")
    second = audit.record("access.request", request="r1", pii=True)
    assert logged() == [first, second]
    assert first["prev"] == audit.GENESIS and second["prev"] == first["hash"]
    assert second["hash"] == audit.digest(second)
    assert (second["action"], second["request"], second["pii"]) == ("access.request", "r1", True)
    assert datetime.fromisoformat(second["at"]).utcoffset() == UTC.utcoffset(None)
    head = audit.Checkpoint.parse(audit.governance_file(audit.HEAD).read_text())
    assert head is not None and (head.seq, head.hash, head.at) == (2, second["hash"], second["at"])
    assert head.valid(audit.public_key())


def test_values_json_cannot_hold_are_written_as_text_and_still_verify():
    entry = audit.record("retention.purge", until=date(2026, 1, 31))
    [written] = logged()
    assert written["until"] == "2026-01-31" and written["hash"] == entry["hash"] == audit.digest(written)
    assert audit.verify() == []


def test_an_entry_longer_than_the_chunk_read_from_the_end_does_not_break_the_next_record():
    # An erasure that could not clean thousands of places records them all in one entry.
    big = audit.record("erasure", not_clean=[f"exports/file-{i:06d}.bin" for i in range(5000)])
    assert len(json.dumps(big)) > 1 << 16
    after = audit.record("port.read", consumer="finance/daily_revenue")
    assert after["prev"] == big["hash"]
    after = audit.record("port.read", consumer="finance/daily_revenue")
    assert audit.verify() == [] and audit.authenticated()[1] == 3


def test_the_first_record_makes_a_private_signing_key_and_publishes_its_public_half():
    audit.record("port.read")
    key = audit.governance_file(audit.KEY)
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    private = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(key.read_text().strip()))
    public = audit.public_key()
    assert public is not None and public.public_bytes_raw() == private.public_key().public_bytes_raw()
    before = key.read_text()
    audit.record("port.read")
    assert key.read_text() == before  # later records reuse it


def test_a_record_after_the_signing_key_was_replaced_is_not_signed():
    for i in range(3):
        audit.record("port.read", snapshot=f"s{i}")
    other = Ed25519PrivateKey.generate()
    audit.governance_file(audit.KEY).write_text(other.private_bytes_raw().hex() + "\n")
    audit.record("port.read", snapshot="s3")
    assert len(audit.governance_file(audit.CHECKPOINTS).read_text().splitlines()) == 3  # nothing signed
    assert audit.verify() == [
        "line 4: not covered by a signed checkpoint (appended after the head, or it was rolled back)"
    ]
    assert audit.authenticated()[1] == 3


def test_a_record_after_the_key_and_head_were_deleted_does_not_start_a_new_signed_log():
    for i in range(3):
        audit.record("port.read", snapshot=f"s{i}")
    for name in (audit.KEY, audit.PUBLIC_KEY, audit.HEAD):
        audit.governance_file(name).unlink()
    audit.record("port.read", snapshot="s3")  # a new key is made, but the checkpoints show a log was signed
    assert audit.governance_file(audit.KEY).exists() and not audit.governance_file(audit.HEAD).exists()
    assert len(audit.governance_file(audit.CHECKPOINTS).read_text().splitlines()) == 3
    problems = audit.verify()
    assert problems[0].startswith("there is no signed head")
    assert audit.authenticated()[1] == 0  # the old checkpoints do not verify under the new key


def test_a_public_key_file_that_holds_no_key_counts_as_no_key():
    audit.record("port.read")
    public = audit.governance_file(audit.PUBLIC_KEY)
    for text in ("not hex\n", "abcd\n"):
        public.write_text(text)
        assert audit.public_key() is None
        assert audit.verify() == [NO_KEY] and audit.authenticated()[1] == 0


def test_entries_filters_an_action_and_its_sub_actions_without_verifying():
    audit.record("port.read", n=1)
    audit.record("port.read.refused", n=2)
    audit.record("port.reader", n=3)
    assert [e["n"] for e in audit.entries("port.read")] == [1, 2]
    assert [e["n"] for e in audit.entries()] == [1, 2, 3]


def forge_line() -> dict:
    """A well-chained line appended to the log, as anyone can make without the signing key."""
    rows = audit.log_path().read_text().splitlines()
    forged = audit.seal({"at": "2026-01-01T00:00:00+00:00", "action": "access.approve"}, json.loads(rows[-1])["hash"])
    with audit.log_path().open("a") as f:
        f.write(json.dumps(forged, sort_keys=True) + "\n")
    return forged


def five_lines() -> None:
    for i in range(5):
        audit.record("port.read", snapshot=f"s{i}")


def test_a_forged_head_over_a_forged_line_is_not_signed_on_by_the_next_record():
    five_lines()
    forged = forge_line()
    head = {"at": forged["at"], "hash": forged["hash"], "seq": 6, "signature": "00" * 64}
    audit.governance_file(audit.HEAD).write_text(json.dumps(head))
    audit.record("port.read", snapshot="s6")
    assert len(audit.governance_file(audit.CHECKPOINTS).read_text().splitlines()) == 5  # nothing signed
    assert audit.authenticated()[1] == 5 and audit.verify()


def test_a_forged_checkpoint_appended_with_a_forged_line_is_not_carried_on_by_the_next_record():
    five_lines()
    forged = forge_line()
    with audit.governance_file(audit.CHECKPOINTS).open("a") as f:
        f.write(json.dumps({"at": forged["at"], "hash": forged["hash"], "seq": 6, "signature": "00" * 64}) + "\n")
    audit.record("port.read", snapshot="s6")
    assert len(audit.governance_file(audit.CHECKPOINTS).read_text().splitlines()) == 6  # the forged one only
    assert audit.authenticated()[1] == 5
    assert "line 6 to 7: not covered by a signed checkpoint" in " ".join(audit.verify())


def test_a_checkpoint_left_by_an_interrupted_record_does_not_bless_a_line_forged_in_its_place():
    five_lines()
    key = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(audit.governance_file(audit.KEY).read_text()))
    with audit.governance_file(audit.CHECKPOINTS).open("a") as f:  # signed line 6, killed before writing it
        f.write(audit.sign(key, 6, "f" * 64).to_json() + "\n")
    forge_line()  # a different line 6
    audit.record("port.read", snapshot="s6")
    assert audit.authenticated()[1] == 5
    assert any(p.startswith("line 6 to 7: not covered by a signed checkpoint") for p in audit.verify())


def test_a_record_after_the_checkpoints_file_was_deleted_and_a_line_forged_is_written_unsigned(caplog):
    five_lines()
    audit.governance_file(audit.CHECKPOINTS).unlink()
    forge_line()
    with caplog.at_level("WARNING", logger="meshwork.core.audit"):
        entry = audit.record("port.read", snapshot="s6")
    assert audit.entries()[-1] == entry and audit.authenticated()[1] == 5
    assert [r.getMessage() for r in caplog.records] == [
        "audit log does not match its signed head: entry recorded unsigned (mesh audit verify)"
    ]


def test_the_first_record_on_a_new_machine_creates_mesh_home(tmp_path, monkeypatch):
    home = tmp_path / "not" / "yet" / "there"
    monkeypatch.setenv("MESH_HOME", str(home))
    audit.record("port.read")
    assert audit.log_path().is_relative_to(home) and audit.verify() == [] and audit.authenticated()[1] == 1
