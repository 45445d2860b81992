"""The file sweep of erasure: each kind of file is cleaned its own way, and what cannot be is never passed as clean."""

from __future__ import annotations

import gzip
from pathlib import Path

from meshwork.governance import erasure_sweep
from meshwork.storage.scrub import Terms

EMAIL = "subject42@example.com"


def _terms() -> Terms:
    t = Terms()
    t.add_value("email", EMAIL)
    t.add_keyed("customer_id", "42")
    return t


def _write(home: Path, name: str, data: bytes) -> Path:
    path = home / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def test_every_file_is_a_place_cleaned_its_own_way_and_unreadable_formats_are_not_passed(mesh_home: Path):
    log = _write(mesh_home, "logs/build/sales.log", f"sample {{'customer_id': 42, 'email': '{EMAIL}'}}\n".encode())
    events = _write(
        mesh_home, "lineage/events.jsonl.gz", gzip.compress(f'{{"customer_id": 42, "e": "{EMAIL}"}}\n'.encode())
    )
    cached = _write(mesh_home, "cache/ports/abc.bin", b"\x00\x01" + EMAIL.encode())
    kept = _write(mesh_home, "exports/dump.bin", b"\x00\x01" + EMAIL.encode())
    zstd = _write(mesh_home, "exports/dump.zst", b"\x28\xb5\x2f\xfd" + b"\x00" * 32)
    clean = _write(mesh_home, "notes.txt", b"nothing of anyone\n")

    places = {p.place: p for p in erasure_sweep.sweep_files({"customer_id": {"42"}}, _terms(), set(), print)}

    assert set(places) == {
        "logs/build/sales.log",
        "lineage/events.jsonl.gz",
        "cache/ports/abc.bin",
        "exports/dump.bin",
        "exports/dump.zst",
        "notes.txt",
    }
    assert (
        places["logs/build/sales.log"].ok and log.read_text() == "sample {'customer_id': null, 'email': '[erased]'}\n"
    )
    assert places["lineage/events.jsonl.gz"].ok
    assert gzip.decompress(events.read_bytes()) == b'{"customer_id": null, "e": "[erased]"}\n'
    assert places["cache/ports/abc.bin"].ok and not cached.exists()  # a cache: deleted
    assert not places["exports/dump.bin"].ok and places["exports/dump.bin"].result == "still holds: email"
    assert kept.exists()  # never guessed at
    assert not places["exports/dump.zst"].ok and "cannot be read" in places["exports/dump.zst"].result
    assert zstd.exists()
    assert (
        places["notes.txt"].ok
        and places["notes.txt"].result == "absent"
        and clean.read_bytes() == b"nothing of anyone\n"
    )
