"""Append-only, hash-chained audit log, anchored by signed checkpoints.

Every port read (and refusal), grant decision and erasure is one entry, carrying the hash of the previous
entry (``prev``) and its own (``hash``): editing, removing or reordering an entry breaks the chain. The chain
says nothing about its end (dropping the last entries, emptying the log, appending a well-formed entry or
recomputing every hash leave a valid chain), so every entry is also covered by a *checkpoint*, an Ed25519
signature saying "the log held ``seq`` entries, the last with ``hash``". The newest is the *head*; without the
signing key nobody can move it.

The chain, for any storage (this file log, or a database table of a control-plane service); entries
are dicts in log order (entry ``n`` is ``entries[n - 1]``), checkpoints in the order written:

- ``digest(entry)``: SHA-256 of the entry's canonical JSON without its ``hash``;
  ``seal(fields, prev)``: the entry to store, with ``prev`` (``GENESIS`` for the first) and ``hash``.
- ``Checkpoint(seq, hash, at, signature)``: ``seq`` entries covered, ``hash`` of entry ``seq``, the hex Ed25519
  signature over ``checkpoint_message(seq, hash, at)``; ``valid``, ``to_json``, ``parse``; ``sign`` makes one.
- ``verify_entries(entries, checkpoints, head, public_key)``: every problem (edited, removed, inserted,
  reordered, truncated, emptied, appended after the head, recomputed, forged or re-keyed checkpoints).
- ``trusted_count(entries, checkpoints, head, public_key)``: how many leading entries a valid
  checkpoint proves, which is what a grant may rely on.

The file log (local mode): entries in ``$MESH_HOME/audit/audit.jsonl``, one a line; the head in
``$MESH_HOME/governance/audit.head.json`` (replaced atomically by every ``record()``), every checkpoint in
``governance/audit.checkpoints.jsonl``, the signing key in ``governance/audit-signing.key`` (mode 0600,
created by the first record) and the public key beside it (``audit-signing.pub``). The limit: the key sits
under ``$MESH_HOME``, so whoever can write the whole of ``$MESH_HOME`` can re-sign a rewritten log, roll it
back to an older head, or start over with a new key. Pinning the public key (``mesh audit verify
--public-key``) catches the new key; only keeping the key and head outside the machine (a control-plane
service) closes the rest.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from meshwork.core import audit_lines, settings

GENESIS = "0" * 64
HEAD, CHECKPOINTS = "audit.head.json", "audit.checkpoints.jsonl"
KEY, PUBLIC_KEY = "audit-signing.key", "audit-signing.pub"
Entries = Sequence[Mapping[str, Any]]
OptionalKey = Ed25519PublicKey | None
_CHECKPOINT_FORMAT = "meshwork.audit.checkpoint/1"
_log = logging.getLogger(__name__)

# -- the chain: pure functions over entries and checkpoints, whatever stores them -----------------------


def digest(entry: Mapping[str, Any]) -> str:
    body = {k: v for k, v in entry.items() if k != "hash"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


def seal(fields: Mapping[str, Any], prev: str) -> dict[str, Any]:
    entry = {**fields, "prev": prev}
    entry["hash"] = digest(entry)
    return entry


def checkpoint_message(seq: int, hash_: str, at: str) -> bytes:
    # Canonical and versioned, so a signature over anything else can never pass for a checkpoint.
    body = {"format": _CHECKPOINT_FORMAT, "seq": seq, "hash": hash_, "at": at}
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


@dataclass(frozen=True)
class Checkpoint:
    seq: int
    hash: str
    at: str
    signature: str

    def valid(self, public_key: Ed25519PublicKey) -> bool:
        try:
            public_key.verify(bytes.fromhex(self.signature), checkpoint_message(self.seq, self.hash, self.at))
        except (InvalidSignature, ValueError):
            return False
        return True

    def to_json(self) -> str:
        return json.dumps({"at": self.at, "hash": self.hash, "seq": self.seq, "signature": self.signature})

    @classmethod
    def parse(cls, text: str) -> Checkpoint | None:
        """The checkpoint in ``text`` (JSON), or None if it is not one."""
        try:
            raw = json.loads(text)
            return cls(seq=int(raw["seq"]), hash=str(raw["hash"]), at=str(raw["at"]), signature=str(raw["signature"]))
        except (ValueError, TypeError, KeyError):
            return None


def sign(private_key: Ed25519PrivateKey, seq: int, hash_: str, at: str | None = None) -> Checkpoint:
    at = at or datetime.now(UTC).isoformat()
    return Checkpoint(seq, hash_, at, private_key.sign(checkpoint_message(seq, hash_, at)).hex())


def _chain(entries: Entries, unit: str, unreadable: Collection[int] = ()) -> tuple[int, str | None]:
    """How many entries chain correctly, and what is wrong with the next one. The entries at the positions in
    ``unreadable`` (reported by whoever read them) are passed over: the next is checked on from its own hash."""
    prev: str | None = GENESIS
    for n, entry in enumerate(entries, start=1):
        if n in unreadable:
            prev = None
            continue
        if prev is not None and entry.get("prev") != prev:
            after = f"does not follow {unit} {n - 1}" if n > 1 else "does not start the chain"
            return n - 1, f"{unit} {n}: {after} (a {unit} was removed, inserted or reordered)"
        if entry.get("hash") != digest(entry):
            return n - 1, f"{unit} {n}: its content does not match its hash (the {unit} was edited)"
        prev = entry["hash"]
    return len(entries), None


def _disagreement(
    cp: Checkpoint, entries: Entries, intact: int, unit: str, what: str, unreadable: Collection[int]
) -> str | None:
    if cp.seq > (total := len(entries)):
        now = f"ends at {unit} {total} (its end was removed)" if total else "is empty (it was emptied or deleted)"
        return f"{what} covers {unit} {cp.seq}, but the log {now}"
    if cp.seq < 1 or (cp.seq <= intact and cp.seq not in unreadable and entries[cp.seq - 1].get("hash") != cp.hash):
        return f"{unit} {cp.seq}: its hash differs from {what} (the log was rewritten and its hashes recomputed)"
    return None  # agrees, or falls after a break of the chain that is already reported


def verify_entries(
    entries: Entries,
    checkpoints: Sequence[Checkpoint],
    head: Checkpoint | None,
    public_key: OptionalKey,
    unit="entry",
    unreadable: Collection[int] = (),
) -> list[str]:
    """Every problem with the log; empty when it is intact and every entry is under a valid signed head.
    ``unreadable``: positions (1-based) of entries that could not be read, already reported."""
    intact, broken = _chain(entries, unit, unreadable)
    problems = [broken] if broken else []
    total = len(entries)
    if public_key is None:
        missing = "there is no public key to check the signed checkpoints with (it was deleted)"
        return problems + ([missing] if entries or head or checkpoints else [])
    head_ok = head is not None and head.valid(public_key)
    if head is None and entries:
        problems.append(
            "there is no signed head: nothing shows that the log was not truncated, rewritten or appended to "
            "(the head was deleted)"
        )
    elif head is not None and not head_ok:
        problems.append("the signed head's signature does not verify (the head was forged or the signing key replaced)")
    elif head is not None:
        if found := _disagreement(head, entries, intact, unit, "the signed head", unreadable):
            problems.append(found)
        if head.seq < total:
            span = f"{unit} {head.seq + 1}" + (f" to {total}" if total > head.seq + 1 else "")
            problems.append(
                f"{span}: not covered by a signed checkpoint (appended after the head, or it was rolled back)"
            )
    forged, disagreeing = [], []
    for i, cp in enumerate(checkpoints):
        # A record interrupted after signing its checkpoint but before writing its entry (see record())
        # leaves a checkpoint that the next record supersedes, or that runs one past the head.
        superseded = i + 1 < len(checkpoints) and checkpoints[i + 1].seq == cp.seq
        in_flight = i + 1 == len(checkpoints) and head_ok and head is not None and cp.seq == head.seq + 1 == total + 1
        where = f"checkpoint {i + 1}"
        if not cp.valid(public_key):
            forged.append(f"{where}: its signature does not verify (forged, or the signing key was replaced)")
        elif not (superseded or in_flight) and (found := _disagreement(cp, entries, intact, unit, where, unreadable)):
            disagreeing.append(found)
    return problems + _first(forged) + _first(disagreeing)


def _first(found: list[str]) -> list[str]:
    """The first of alike problems and how many more: one rewrite must not make a thousand lines."""
    more = len(found) - 1
    return [found[0] + (f" (and {more} more checkpoint{'s' if more > 1 else ''})" if more else "")] if found else []


def trusted_count(
    entries: Entries, checkpoints: Sequence[Checkpoint], head: Checkpoint | None, public_key: OptionalKey
) -> int:
    """How many leading entries are proven: the chain is intact up to a validly signed checkpoint of them."""
    if public_key is None:
        return 0
    intact, _ = _chain(entries, "entry")
    best = 0
    for cp in [*([head] if head else []), *reversed(checkpoints)]:
        # The hash chain ties every earlier entry to a signed one, so the furthest signed one is enough.
        if best < cp.seq <= intact and entries[cp.seq - 1].get("hash") == cp.hash and cp.valid(public_key):
            best = cp.seq
    return best


# -- the file log -------------------------------------------------------------------------------------


def log_path() -> Path:
    return settings.mesh_home() / "audit" / "audit.jsonl"


def governance_file(name: str) -> Path:
    """``HEAD``, ``CHECKPOINTS``, ``KEY`` (the signing key) or ``PUBLIC_KEY`` under ``$MESH_HOME/governance``."""
    return settings.mesh_home() / "governance" / name


@contextmanager
def _reading() -> Iterator[str | None]:
    """The log's text (None if there is no log), with writers held off so the head and checkpoints match it."""
    try:
        f = log_path().open("rb")
    except FileNotFoundError:
        yield None
        return
    with f:
        fcntl.flock(f, fcntl.LOCK_SH)
        yield f.read().decode(errors="replace")  # a damaged byte: that line is reported, not the whole log


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


# Per process: a run records every port read, and re-verifying the head this process wrote itself
# or re-parsing the same key would double the cost of a record.
_cache: dict[str, Any] = {"key": (b"", None), "head": None}


def _signing_key(governance: Path) -> tuple[Ed25519PrivateKey, bool]:
    """The local signing key, and whether this call created it (0600, the public key beside it)."""
    path = governance / KEY
    if path.exists():
        raw = path.read_bytes()
        if _cache["key"][0] != raw:
            _cache["key"] = (raw, Ed25519PrivateKey.from_private_bytes(bytes.fromhex(raw.decode().strip())))
        return _cache["key"][1], False
    key = Ed25519PrivateKey.generate()
    path.parent.mkdir(parents=True, exist_ok=True)
    _write_atomic(governance / PUBLIC_KEY, key.public_key().public_bytes_raw().hex() + "\n")
    with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as f:
        f.write(key.private_bytes_raw().hex() + "\n")
    return key, True


def public_key() -> Ed25519PublicKey | None:
    """The public key beside the local signing key, or None if there is none (or it is not a key)."""
    text = _read_text(governance_file(PUBLIC_KEY))
    try:
        return Ed25519PublicKey.from_public_bytes(bytes.fromhex(text.strip())) if text else None
    except ValueError:
        return None


def _read_text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return None


def _next_seq(log: IO[bytes], prev: str, governance: Path) -> tuple[Ed25519PrivateKey, int | None]:
    """The signing key, and the seq the next entry may be signed at (None: the log does not match its head)."""
    key, created = _signing_key(governance)
    text = _read_text(governance / HEAD)
    head = Checkpoint.parse(text) if text else None
    if head is None:
        if not created or (governance / CHECKPOINTS).exists():
            return key, None  # the head was deleted: signing would bless whatever was done with it
        # The first record with a key: a new log, or one from before signed checkpoints (trusted as found).
        log.seek(0)
        return key, sum(1 for line in log if line.strip()) + 1
    if not (_cache["head"] == (text, key) or head.valid(key.public_key())):
        return key, None
    if head.hash == prev:
        return key, head.seq + 1
    lines = (_read_text(governance / CHECKPOINTS) or "").splitlines()
    cp = Checkpoint.parse(lines[-1]) if lines else None
    if cp is not None and cp.seq == head.seq + 1 and cp.hash == prev and cp.valid(key.public_key()):
        return key, cp.seq + 1  # a record interrupted before it replaced the head: its checkpoint stands
    # Signing now would bless whatever was done to the log: the entry goes in unsigned, and verify says so.
    return key, None


def record(action: str, **fields: Any) -> dict[str, Any]:
    home = settings.mesh_home()
    (home / "audit").mkdir(parents=True, exist_ok=True)
    with (home / "audit" / "audit.jsonl").open("a+b") as f:
        # One writer at a time across processes: the chain needs the true last entry, the head the true seq.
        fcntl.flock(f, fcntl.LOCK_EX)
        last = audit_lines.last(f)
        prev = audit_lines.hash_of(last) if last else GENESIS
        key, seq = _next_seq(f, prev, home / "governance")
        entry = seal({"at": datetime.now(UTC).isoformat(), "action": action, **fields}, prev)
        checkpoint = sign(key, seq, entry["hash"], entry["at"]) if seq else None
        if checkpoint:
            # Before the entry: an interrupted record leaves a checkpoint the next one supersedes, never an
            # entry that no checkpoint covers.
            with (home / "governance" / CHECKPOINTS).open("a", encoding="utf-8") as cf:
                cf.write(checkpoint.to_json() + "\n")
        else:
            _log.warning("audit log does not match its signed head: entry recorded unsigned (mesh audit verify)")
        f.seek(0, os.SEEK_END)
        f.write((json.dumps(entry, sort_keys=True, default=str) + "\n").encode())
        f.flush()
        os.fsync(f.fileno())
        if checkpoint:
            text = checkpoint.to_json()
            _write_atomic(home / "governance" / HEAD, text)
            _cache["head"] = (text, key)
    return entry


def _read_checkpoints() -> tuple[list[Checkpoint], list[str]]:
    found, problems = [], []
    for n, line in enumerate((_read_text(governance_file(CHECKPOINTS)) or "").splitlines(), start=1):
        if (cp := Checkpoint.parse(line)) is None:
            problems.append(f"{CHECKPOINTS} line {n}: not a checkpoint")
        else:
            found.append(cp)
    return found, problems


def entries(action: str | None = None) -> list[dict[str, Any]]:
    """The entries of ``action`` (and its sub-actions), as written: not verified (see ``authenticated``)."""
    rows = [r for r in audit_lines.parse(_read_text(log_path()) or "")[0] if r]  # not the unreadable lines
    return [r for r in rows if action is None or r["action"] == action or r["action"].startswith(f"{action}.")]


def authenticated() -> tuple[list[dict[str, Any]], int]:
    """Every line's entry (``{}`` for an unreadable one), and how many leading ones a signed checkpoint proves
    (the rest may be forged)."""
    with _reading() as log:
        rows, _ = audit_lines.parse(log or "")
        text = _read_text(governance_file(HEAD))
        head = Checkpoint.parse(text) if text else None
        key = public_key()
        trusted = trusted_count(rows, [], head, key)
        if trusted < len(rows):  # the head does not cover them all: an older checkpoint may cover more
            trusted = trusted_count(rows, _read_checkpoints()[0], head, key)
    return rows, trusted


def verify(pinned_key: Ed25519PublicKey | None = None) -> list[str]:
    """Problems with the file log (line numbers are 1-based); empty when it is intact and signed. An
    unreadable line is named (file, number, why) and the lines after it still checked; a missing checkpoints
    file or signing key is named.

    ``pinned_key``: the public key to check against, kept outside ``$MESH_HOME`` (by default the one beside
    the signing key, which whoever can write ``$MESH_HOME`` can replace along with the key).
    """
    with _reading() as log:
        rows, unreadable = audit_lines.parse(log or "")
        checkpoints, problems = _read_checkpoints()
        kept = {name: governance_file(name).exists() for name in (CHECKPOINTS, KEY)}
        text = _read_text(governance_file(HEAD))
        local_key = public_key()
    head = Checkpoint.parse(text) if text else None
    if not (rows or checkpoints or problems or text or kept[KEY]):
        return []  # nothing was ever recorded here
    problems = audit_lines.report(log_path(), unreadable) + problems
    if text is not None and head is None:
        problems.append(f"{HEAD} is not a signed checkpoint (it was edited)")
    if log is None:
        problems.append(f"the audit log {log_path()} is missing (it was deleted)")
    if rows and not checkpoints:  # every signed record adds one: only a log from before them has none
        state = "holds no checkpoint (it was emptied)" if kept[CHECKPOINTS] else "is missing (it was deleted)"
        problems.append(
            f"{governance_file(CHECKPOINTS)} {state}, but the log has {len(rows)} lines for its checkpoints to cover"
        )
    if (rows or text or checkpoints) and not kept[KEY]:
        problems.append(f"the signing key {governance_file(KEY)} is missing (it was deleted)")
    if pinned_key and local_key and local_key.public_bytes_raw() != pinned_key.public_bytes_raw():
        problems.append(f"{PUBLIC_KEY} is not the pinned public key (the signing key was replaced)")
    return problems + verify_entries(rows, checkpoints, head, pinned_key or local_key, "line", unreadable)


def query(
    action: str | None = None, consumer: str | None = None, port: str | None = None, limit: int = 50
) -> list[dict[str, Any]]:
    """The last ``limit`` entries of ``action`` (and its sub-actions), of ``consumer`` and ``port`` if given."""
    rows = [r for r in entries(action) if consumer in (None, r.get("consumer")) and port in (None, r.get("port"))]
    return rows[-limit:]
