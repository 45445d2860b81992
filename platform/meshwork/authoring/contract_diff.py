"""`mesh contracts diff`: each working-tree contract against its last published (or committed) version."""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

from meshwork.model.compatibility import PortDiff, diff
from meshwork.model.contracts import Contract, load_contract
from meshwork.model.mesh import Mesh, Port
from meshwork.storage import snapshots

Baseline = Callable[[Port], tuple[str, str] | None]  # port -> (contract text, where it came from)


def published_baseline(port: Port) -> tuple[str, str] | None:
    """The contract stored with the latest snapshot of this major, else of the newest older major."""
    majors = [m for m in snapshots.published_majors(port.domain, port.product) if m <= port.major]
    for major in sorted(majors, reverse=True):
        published = snapshots.published_contract(port.domain, port.product, major)
        if published:
            text, snapshot = published
            return text, f"published v{major} snapshot {snapshot}"
    return None


def git_baseline(ref: str, project_dir: Path) -> Baseline:
    def baseline(port: Port) -> tuple[str, str] | None:
        rel = port.contract.path.resolve().relative_to(project_dir.resolve())
        proc = subprocess.run(["git", "show", f"{ref}:{rel}"], cwd=project_dir, capture_output=True, text=True)
        return (proc.stdout, f"git {ref}:{rel}") if proc.returncode == 0 else None

    return baseline


def _parse(text: str, product: str) -> Contract | None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "baseline.odcs.yaml"
        path.write_text(text, encoding="utf-8")
        contract, _ = load_contract(path, product)
    return contract


def diff_mesh(mesh: Mesh, baseline: Baseline) -> list[PortDiff]:
    results = []
    for product in mesh.products.values():
        for port in product.ports:
            consumers = sorted(c.key for c, i in mesh.consumers(product.key) if i.major == port.major)
            found = baseline(port)
            old = _parse(found[0], product.key) if found else None
            results.append(
                PortDiff(
                    port=port.ref,
                    baseline=found[1] if found else "none (never published)",
                    old_version=old.version if old else None,
                    new_version=port.contract.version,
                    changes=diff(old, port.contract, product.key) if old else [],
                    consumers=consumers,
                )
            )
    return results
