"""The audit log's formats are stable: an entry's hash is SHA-256 over its canonical JSON, and a checkpoint
signs a canonical, versioned message. Both are written out here by hand, so a change that would make every
log written before it fail to verify (or let another signed message pass for a checkpoint) fails a test."""

from __future__ import annotations

import hashlib
import json
from datetime import date

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from meshwork.core import audit

AT = "2026-12-03T10:00:00+00:00"
FIELDS = {"at": AT, "action": "port.read", "consumer": "finance/daily_revenue", "until": date(2026, 1, 31), "n": 1}
# The entry above as canonical JSON: keys sorted, json.dumps' default separators, non-JSON values as text.
CANONICAL = (
    '{"action": "port.read", "at": "2026-12-03T10:00:00+00:00", "consumer": "finance/daily_revenue", "n": 1, '
    f'"prev": "{"0" * 64}", "until": "2026-01-31"}}'
)
HASH = hashlib.sha256(CANONICAL.encode()).hexdigest()
# Ed25519 signatures are deterministic: this key always signs the checkpoint below with this signature.
KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
SIGNATURE = (
    "890c25cff8cad03139134d2cdc6c0e002f9729c7ac1a9710201ec4f92251a2ec"
    "2eae9e85483e88a089cb86f0487341810fa380d25cb96533fd7e21ad35fc970b"
)


def test_an_entrys_hash_is_sha256_over_its_canonical_json_without_the_hash():
    entry = audit.seal(FIELDS, audit.GENESIS)
    assert audit.GENESIS == "0" * 64
    assert entry == {**FIELDS, "prev": audit.GENESIS, "hash": HASH}
    assert audit.digest(entry) == HASH == audit.digest({**entry, "hash": "anything"})
    assert audit.digest({**entry, "n": 2}) != HASH


def test_a_checkpoint_signs_the_versioned_canonical_message():
    message = '{"at":"2026-12-03T10:00:00+00:00","format":"meshwork.audit.checkpoint/1","hash":"' + HASH + '","seq":1}'
    assert audit.checkpoint_message(1, HASH, AT) == message.encode()
    checkpoint = audit.sign(KEY, 1, HASH, AT)
    assert checkpoint == audit.Checkpoint(1, HASH, AT, SIGNATURE)
    KEY.public_key().verify(bytes.fromhex(SIGNATURE), message.encode())  # raises if it does not verify
    # The same key's signature over the bare fields (no format tag) is not a checkpoint.
    bare = json.dumps({"at": AT, "hash": HASH, "seq": 1}, sort_keys=True, separators=(",", ":")).encode()
    assert not audit.Checkpoint(1, HASH, AT, KEY.sign(bare).hex()).valid(KEY.public_key())


def test_a_checkpoint_is_stored_as_this_json_and_read_back():
    text = json.dumps({"at": AT, "hash": HASH, "seq": 1, "signature": SIGNATURE})
    checkpoint = audit.Checkpoint(1, HASH, AT, SIGNATURE)
    assert checkpoint.to_json() == text
    assert audit.Checkpoint.parse(text) == checkpoint and checkpoint.valid(KEY.public_key())
    for broken in ("", "{}", "[1]", '{"seq": "x", "hash": "h", "at": "t", "signature": "s"}'):
        assert audit.Checkpoint.parse(broken) is None


def test_a_checkpoint_with_a_signature_that_is_not_hex_is_not_valid():
    assert not audit.Checkpoint(1, HASH, AT, "not hex").valid(KEY.public_key())
    assert not audit.Checkpoint(2, HASH, AT, SIGNATURE).valid(KEY.public_key())  # another seq
    assert not audit.Checkpoint(1, HASH, "2026-12-04T10:00:00+00:00", SIGNATURE).valid(KEY.public_key())


def test_sign_stamps_the_time_in_utc_when_none_is_given():
    checkpoint = audit.sign(KEY, 1, HASH)
    assert checkpoint.at.endswith("+00:00") and checkpoint.valid(KEY.public_key())
