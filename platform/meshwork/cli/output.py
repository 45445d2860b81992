"""The one output module of ``mesh``: exit codes, errors, progress, and every result as text or ``--json``.

Commands parse their options, call the library and hand the result to one renderer here; nothing
else in the CLI prints. With ``--json`` stdout carries exactly one JSON document, so progress and
errors go to stderr.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Mapping
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from meshwork.core import settings
from meshwork.core.errors import MeshError

if TYPE_CHECKING:
    from meshwork.catalog.site import BuildSummary
    from meshwork.governance.erasure import Certificate
    from meshwork.governance.notify import Delivery
    from meshwork.governance.validation import ProjectReport
    from meshwork.lineage.delivery import Replay
    from meshwork.model.grants import AccessRequest
    from meshwork.model.mesh import Mesh
    from meshwork.runtime.build import BuildResult
    from meshwork.storage.verification import VersionCheck

EXIT_OK, EXIT_FAILED, EXIT_INVALID = 0, 1, 2


def fail(message: str, code: int) -> NoReturn:
    """Print ``error: message`` to stderr and exit with ``code``."""
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def load_mesh_or_exit(check_grants: bool = True, strict: bool = True) -> Mesh:
    """The mesh of this checkout; exit 2 with the reason when its definition is invalid. Not ``strict``:
    the mesh as far as it loads (``mesh.broken`` says what does not; ``cli/broken.py`` prints it)."""
    # Deferred: the mesh model takes ~0.7 s to import, which audit, notices and generate never need.
    from meshwork.model.loader import load_mesh

    try:
        return load_mesh(check_grants=check_grants, strict=strict)
    except MeshError as exc:
        fail(str(exc), EXIT_INVALID)


def say(as_json: bool = False) -> Callable[[str], None]:
    """The progress printer: stdout, or stderr when stdout carries the ``--json`` result."""

    def printer(message: str) -> None:
        click.echo(message, err=as_json)

    return printer


def _json(data: Any, indent: int | None = 2) -> None:
    click.echo(json.dumps(data, indent=indent))


# -- generate, build ----------------------------------------------------------------------------------


def generated(counts: Mapping[str, int], seconds: float) -> None:
    for name, n in counts.items():
        click.echo(f"  {name:<22} {n:>12,} rows")
    click.echo(f"generated in {seconds:.1f}s into {settings.sources_dir()}")


def build_summary(
    result: BuildResult, ports: list[dict[str, Any]], as_json: bool, held: Mapping[str, str] | None = None
) -> None:
    """``held``: the asked-for domains that did not build because they (or an upstream) are broken."""
    held = held or {}
    if as_json:
        _json(
            {
                "held": dict(held),
                "ok": result.ok,
                "seconds": round(result.seconds, 2),
                "peak_rss_bytes": result.peak_rss_bytes,
                "domains": [
                    {
                        "domain": d.domain,
                        "ok": d.ok,
                        "seconds": round(d.seconds, 2),
                        "log": str(d.log),
                        "failures": [f.record() for f in d.failures],
                    }
                    for d in result.domains
                ],
                "skipped": result.skipped,
                "storage_error": result.storage_error,
                "ports": ports,
            }
        )
        return
    click.echo("")
    click.echo(f"{'port':<40} {'snapshot':<34} {'rows':>12}")
    for row in ports:
        rows = f"{row['rows']:,}" if row["rows"] is not None else "-"
        click.echo(f"{row['port']:<40} {row['snapshot'] or '(none)':<34} {rows:>12}")
    n_products = len({(r["domain"], r["product"]) for r in ports})
    for domain, why in held.items():
        click.echo(f"NOT BUILT {domain}: {why}")
    click.echo(
        f"\n{'OK' if result.ok and not held else 'FAILED'}: {len(result.domains)} domain(s), {n_products} products, "
        f"{sum(1 for r in ports if r.get('published_now'))} port(s) published, {result.seconds:.1f}s, "
        f"peak memory {result.peak_rss_bytes / 2**20:,.0f} MiB"
    )
    if result.ok:
        click.echo("Open the UI with `make ui` (http://127.0.0.1:3000).")


# -- check --------------------------------------------------------------------------------------------


def check_report(report: ProjectReport, as_json: bool) -> None:
    findings = report.findings
    if as_json:
        _json(
            {
                "ok": report.ok,
                "problems": report.problems,
                "warnings": report.warnings,
                "policies": [
                    {"id": p.id, "scope": p.scope, "severity": p.severity, "rationale": p.rationale}
                    for p in report.policies
                ],
                "violations": [
                    {
                        "policy": f.policy,
                        "severity": f.severity,
                        "subject": f.subject,
                        "domain": f.domain,
                        "owner": report.owner(f.domain),
                        "message": f.message,
                        "file": str(f.file) if f.file else None,
                    }
                    for f in findings
                ],
            }
        )
        return
    if report.problems:
        click.echo(f"{len(report.problems)} problem(s) in the mesh definition:", err=True)
        for p in report.problems:
            click.echo(f"  - {p}", err=True)
    by_domain: dict[str, list] = {}
    for f in findings:
        by_domain.setdefault(f.domain, []).append(f)
    for domain, items in sorted(by_domain.items()):
        click.echo(f"{domain} (owner: {report.owner(domain)})")
        for f in items:
            where = f" [{f.file}]" if f.file else ""
            click.echo(f"  {f.severity.upper():<5} {f.policy}: {f.subject}: {f.message}{where}")
    for w in report.warnings:
        click.echo(f"warning: {w}", err=True)
    if report.mesh is not None and not report.problems:
        errors = len(report.errors)
        # The warnings printed above (deprecated versions, removals ahead) count as well as policy warnings.
        warnings = len(findings) - errors + len(report.warnings)
        click.echo(
            f"{'FAILED' if errors else 'OK'}: {len(report.mesh.domains)} domains, {len(report.mesh.products)} "
            f"products, {errors} policy error(s), {warnings} warning(s)"
        )


# -- ports --------------------------------------------------------------------------------------------


def port_list(rows: list[dict[str, Any]], as_json: bool) -> None:
    if as_json:
        _json(rows)
        return
    for row in rows:
        click.echo(
            f"{row['port']:<40} {row['snapshot'] or '(none)':<34} {row['rows'] if row['rows'] is not None else '-':>12}"
        )


def port_verification(report: dict[str, VersionCheck], store: str, as_json: bool) -> None:
    """``report``: port ref -> the snapshots checked and the problems found; ``store``: the store's URL."""
    if as_json:
        _json(
            {
                "ok": not any(c.problems for c in report.values()),
                "store": store,
                "ports": {ref: c.problems for ref, c in report.items()},
                "snapshots": {ref: c.snapshots for ref, c in report.items()},
            }
        )
        return
    for ref, check in report.items():
        checked = f"({len(check.snapshots)} snapshot{'s' if len(check.snapshots) != 1 else ''})"
        click.echo(f"{ref:<40} {'OK ' + checked if not check.problems else 'DAMAGED: ' + '; '.join(check.problems)}")


# -- access -------------------------------------------------------------------------------------------


def access_request(request: AccessRequest, as_json: bool) -> None:
    if as_json:
        _json(asdict(request))
    else:
        click.echo(f"{request.id}  {request.status:<8} {request.consumer} -> {request.port}  ({request.reason})")


def access_requests(rows: list[dict[str, Any]], as_json: bool) -> None:
    if as_json:
        _json(rows)
        return
    for r in rows:
        flag = "  FORGED: no matching approval in the audit log" if r["forged"] else ""
        click.echo(
            f"{r['id']}  {r['status']:<8} {r['consumer']} -> {r['port']}  expires {r['expires'] or 'never'}{flag}"
        )


# -- erase, retention ---------------------------------------------------------------------------------


def erasure_certificate(cert: Certificate, as_json: bool) -> None:
    if as_json:
        _json(asdict(cert))
        return
    click.echo(
        f"erasure certificate {cert.id}: {cert.subject} removed from {len(cert.sources)} source file(s), "
        f"{len(cert.warehouses)} warehouse table(s), {len(cert.snapshots)} snapshot(s); "
        f"rebuilt {', '.join(cert.rebuilt_domains) or 'nothing'}; verified absent: {cert.verified_absent}"
    )


def retention_purge(removed: dict[str, list[str]], as_json: bool) -> None:
    if as_json:
        _json(removed)
        return
    for product, items in removed.items():
        click.echo(f"{product}:")
        for item in items:
            click.echo(f"  purged {item}")
    click.echo(f"{len(removed)} product(s) had expired data")


# -- notices, audit -----------------------------------------------------------------------------------


def notice_list(found: list[dict[str, Any]], as_json: bool) -> None:
    if as_json:
        _json(found)
        return
    for n in found:
        if n.get("undelivered"):
            status = f"NOT DELIVERED ({n['undelivered']})"
        elif n.get("skipped"):
            status = f"skipped ({n['skipped']})"
        else:
            status = "kept" if n.get("channel", "outbox") == "outbox" else "delivered"
        where = f"{n.get('channel', 'outbox')}" + (f" to {n['to']}" if n.get("to") else "")
        when = (n.get("sent_at") or n["at"])[:19].replace("T", " ")
        click.echo(f"{when} {n['team']:<18} {n['state']:<9} {n['kind']:<10} {n['subject']}: {n['message']}")
        click.echo(f"{'':<20}via {where}: {status}")
    click.echo(f"{len(found)} notice(s)")


def notice_delivery(delivery: Delivery, as_json: bool) -> None:
    if as_json:
        _json(asdict(delivery), indent=None)
    else:
        click.echo(
            f"delivered {delivery.delivered}, still queued {delivery.queued}"
            + (f": {delivery.error}" if delivery.error else "")
        )


def audit_verification(problems: list[str], entries: int, as_json: bool) -> None:
    if as_json:
        _json({"ok": not problems, "problems": problems, "entries": entries}, indent=None)
    else:
        click.echo("\n".join(problems) if problems else f"OK: {entries} entries, chain intact")


def audit_entries(rows: list[dict[str, Any]], as_json: bool) -> None:
    if as_json:
        _json(rows)
        return
    first = ("consumer", "port", "snapshot", "run_id", "reason", "by")
    chain = {"at", "action", "prev", "hash"}  # the chain's own fields: `mesh audit verify` is about them
    for r in rows:
        # Every field an action recorded (retention.rows: product, column, cutoff, rows…), the usual ones first.
        keys = [k for k in first if k in r] + sorted(k for k in r if k not in chain and k not in first)
        detail = " ".join(f"{k}={_field(r[k])}" for k in keys if r[k] not in (None, "", [], {}))
        click.echo(f"{r['at']}  {r['action']:<20} {detail}")


def _field(value: Any) -> str:
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return str(value)


# -- contracts, new, onboard --------------------------------------------------------------------------


# -- lineage, catalog ---------------------------------------------------------------------------------


def lineage(result: dict[str, Any], as_json: bool) -> None:
    if as_json:
        _json(result)
        return
    # Deferred: the lineage graph imports the mesh model (~0.7 s), which most commands never load.
    from meshwork.lineage.graph import render

    click.echo(render(result))


def lineage_replay(outcome: Replay, outbox: Path, as_json: bool) -> None:
    if as_json:
        _json({**asdict(outcome), "outbox": str(outbox)})
        return
    click.echo(f"delivered {outcome.delivered}, {outcome.remaining} left in {outbox}")
    for error in outcome.errors:
        click.echo(f"  backend still refuses: {error}")


def catalog_summary(summary: BuildSummary, as_json: bool) -> None:
    if as_json:
        _json(
            {
                "ok": True,
                "out": str(summary.out),
                "index": str(summary.index),
                "export": str(summary.export),
                "pages": [str(p) for p in summary.pages],
                "removed": [str(p) for p in summary.removed],
                "products": len(summary.pages),
                "instance": summary.instance,
                "seconds": round(summary.seconds, 3),
            }
        )
        return
    click.echo(
        f"catalog of {len(summary.pages)} products written in {summary.seconds:.1f}s"
        f"{'' if summary.instance else ' (no Dagster instance: gate results unavailable)'}"
    )
    click.echo(f"open {summary.index.as_uri()}")
