"""``mesh``: the Meshwork command line (build, inspect and check the mesh)."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import click

from meshwork.core import settings
from meshwork.core.errors import MeshError

EXIT_OK, EXIT_FAILED, EXIT_INVALID = 0, 1, 2


def _load_mesh(check_grants: bool = True):
    from meshwork.model.mesh import load_mesh

    try:
        return load_mesh(check_grants=check_grants)
    except MeshError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_INVALID)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Meshwork: build, inspect and govern the data mesh defined in this checkout.

    Exit codes: 0 success, 1 a build or check failed, 2 the mesh definition is invalid.
    """


@main.command()
@click.option("--orders", type=click.IntRange(min=1), default=None, help="Orders to generate (default 2000).")
@click.option("--seed", type=int, default=42, show_default=True)
def generate(orders: int | None, seed: int) -> None:
    """Generate the example company's operational source files under $MESH_HOME/sources."""
    from meshwork.example.sources import DEFAULT_ORDERS, Scale
    from meshwork.example.sources import generate as gen

    start = time.monotonic()
    counts = gen(Scale(orders=orders or DEFAULT_ORDERS, seed=seed), progress=lambda m: click.echo(f"  {m}"))
    for name, n in counts.items():
        click.echo(f"  {name:<22} {n:>12,} rows")
    click.echo(f"generated in {time.monotonic() - start:.1f}s into {settings.sources_dir()}")


@main.command()
@click.option("--domain", "domains", multiple=True, help="Build only these domains (repeatable).")
@click.option(
    "--orders", type=click.IntRange(min=1), default=None, help="Regenerate the example source data at this scale first."
)
@click.option(
    "--parallel", type=click.IntRange(min=1), default=2, show_default=True, help="Domains built at the same time."
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def build(domains: tuple[str, ...], orders: int | None, parallel: int, as_json: bool) -> None:
    """Build the whole mesh (or some domains) through Dagster, in dependency order."""
    from meshwork.example.sources import DEFAULT_ORDERS, Scale
    from meshwork.example.sources import generate as gen
    from meshwork.runtime import build as mesh_build

    mesh = _load_mesh()
    unknown = sorted(set(domains) - set(mesh.domains))
    if unknown:
        click.echo(
            f"error: unknown domain(s): {', '.join(unknown)}; known: {', '.join(sorted(mesh.domains))}", err=True
        )
        sys.exit(EXIT_INVALID)
    say = (lambda m: click.echo(m, err=True)) if as_json else click.echo
    if orders or not settings.sources_dir().exists():
        say(f"generating example source data ({orders or DEFAULT_ORDERS:,} orders) …")
        gen(Scale(orders=orders or DEFAULT_ORDERS))
    from meshwork.runtime.instance import InstanceUnavailable, storage_description

    say(f"building {len(domains) or len(mesh.domains)} domain(s) with MESH_HOME={settings.mesh_home()}")
    say(f"Dagster instance storage: {storage_description()}")
    try:
        result = mesh_build.build(mesh, list(domains) or None, parallelism=parallel, progress=say)
    except InstanceUnavailable as exc:
        click.echo(f"error: {exc}; nothing was built", err=True)
        sys.exit(EXIT_FAILED)
    summary = mesh_build.port_summary(mesh)
    if as_json:
        click.echo(
            json.dumps(
                {
                    "ok": result.ok,
                    "seconds": round(result.seconds, 2),
                    "peak_rss_bytes": result.peak_rss_bytes,
                    "domains": [
                        {"domain": d.domain, "ok": d.ok, "seconds": round(d.seconds, 2), "log": str(d.log)}
                        for d in result.domains
                    ],
                    "skipped": result.skipped,
                    "storage_error": result.storage_error,
                    "ports": summary,
                },
                indent=2,
            )
        )
    else:
        click.echo("")
        click.echo(f"{'port':<40} {'snapshot':<34} {'rows':>12}")
        for row in summary:
            rows = f"{row['rows']:,}" if row["rows"] is not None else "-"
            click.echo(f"{row['port']:<40} {row['snapshot'] or '(none)':<34} {rows:>12}")
        n_products = len({(r["domain"], r["product"]) for r in summary})
        click.echo(
            f"\n{'OK' if result.ok else 'FAILED'}: {len(result.domains)} domain(s), {n_products} products, "
            f"{sum(1 for r in summary if r['snapshot'])} port(s) published, {result.seconds:.1f}s, "
            f"peak memory {result.peak_rss_bytes / 2**20:,.0f} MiB"
        )
        if result.ok:
            click.echo("Open the UI with `make ui` (http://127.0.0.1:3000).")
    if result.storage_error:
        click.echo(f"error: {result.storage_error}; rerun `mesh build` once it answers again", err=True)
    sys.exit(EXIT_OK if result.ok else EXIT_FAILED)


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def check(as_json: bool) -> None:
    """The CI gate: load every descriptor, contract and dbt model, then evaluate every policy.

    Exit 2 when the mesh definition is invalid, 1 when an error-severity policy is violated.
    """
    from meshwork.core.errors import MeshDefinitionError
    from meshwork.governance.policies import evaluate, load_policies
    from meshwork.model.mesh import load_mesh
    from meshwork.runtime.dbt_products import check_models, ensure_manifest

    problems: list[str] = []
    mesh = None
    try:
        mesh = load_mesh()
        manifest = json.loads(ensure_manifest().read_text(encoding="utf-8"))
        for domain in mesh.domains:
            try:
                check_models(mesh, domain, manifest)
            except MeshDefinitionError as exc:
                problems += [str(p) for p in exc.problems]
    except MeshDefinitionError as exc:
        problems += [str(p) for p in exc.problems]
    findings = evaluate(mesh) if mesh is not None and not problems else []
    errors = [f for f in findings if f.severity == "error"]
    warnings = [str(w) for w in mesh.warnings()] if mesh else []
    if as_json:
        click.echo(
            json.dumps(
                {
                    "ok": not problems and not errors,
                    "problems": problems,
                    "warnings": warnings,
                    "policies": [
                        {"id": p.id, "scope": p.scope, "severity": p.severity, "rationale": p.rationale}
                        for p in (load_policies(mesh)[0] if mesh else [])
                    ],
                    "violations": [
                        {
                            "policy": f.policy,
                            "severity": f.severity,
                            "subject": f.subject,
                            "domain": f.domain,
                            "owner": _owner(mesh, f.domain),
                            "message": f.message,
                            "file": str(f.file) if f.file else None,
                        }
                        for f in findings
                    ],
                },
                indent=2,
            )
        )
    else:
        if problems:
            click.echo(f"{len(problems)} problem(s) in the mesh definition:", err=True)
            for p in problems:
                click.echo(f"  - {p}", err=True)
        by_domain: dict[str, list] = {}
        for f in findings:
            by_domain.setdefault(f.domain, []).append(f)
        for domain, items in sorted(by_domain.items()):
            click.echo(f"{domain} (owner: {_owner(mesh, domain)})")
            for f in items:
                where = f" [{f.file}]" if f.file else ""
                click.echo(f"  {f.severity.upper():<5} {f.policy}: {f.subject}: {f.message}{where}")
        for w in warnings:
            click.echo(f"warning: {w}", err=True)
        if mesh is not None and not problems:
            click.echo(
                f"{'FAILED' if errors else 'OK'}: {len(mesh.domains)} domains, {len(mesh.products)} products, "
                f"{len(errors)} policy error(s), {len(findings) - len(errors)} warning(s)"
            )
    sys.exit(EXIT_INVALID if problems else EXIT_FAILED if errors else EXIT_OK)


def _owner(mesh, domain: str) -> str:
    return mesh.domains[domain].descriptor.owner.team if mesh and domain in mesh.domains else "?"


@main.group()
def ports() -> None:
    """Inspect output ports and their snapshots."""


@ports.command("list")
@click.option("--json", "as_json", is_flag=True)
def ports_list(as_json: bool) -> None:
    """Every port version with its latest snapshot and row count."""
    from meshwork.runtime.build import port_summary

    rows = port_summary(_load_mesh())
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        click.echo(
            f"{row['port']:<40} {row['snapshot'] or '(none)':<34} {row['rows'] if row['rows'] is not None else '-':>12}"
        )


@ports.command("verify")
@click.option("--json", "as_json", is_flag=True)
def ports_verify(as_json: bool) -> None:
    """Check every latest snapshot's files against its manifest checksums (in the local or object store)."""
    from meshwork.storage import port_store, snapshots

    mesh = _load_mesh()
    report = {}
    for product in mesh.products.values():
        for port in product.ports:
            snap = snapshots.latest_snapshot(product.domain, product.name, port.major)
            if snap:
                try:
                    manifest = snapshots.read_manifest(product.domain, product.name, port.major, snap)
                except FileNotFoundError as exc:  # `latest` names a snapshot whose manifest is gone
                    report[port.ref] = [str(exc)]
                    continue
                report[port.ref] = snapshots.verify(manifest)
    bad = {k: v for k, v in report.items() if v}
    if as_json:
        click.echo(json.dumps({"ok": not bad, "store": port_store.current().url, "ports": report}, indent=2))
    else:
        for ref, problems in report.items():
            click.echo(f"{ref:<40} {'OK' if not problems else 'DAMAGED: ' + '; '.join(problems)}")
    sys.exit(EXIT_FAILED if bad else EXIT_OK)


@main.group()
def access() -> None:
    """Request, approve, deny and revoke access to restricted ports (every decision is audited)."""


def _access_call(fn, *args, as_json: bool = False, **kwargs) -> None:
    from dataclasses import asdict

    from meshwork.governance.access import AccessError

    try:
        result = fn(*args, **kwargs)
    except AccessError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_INVALID)
    click.echo(
        json.dumps(asdict(result), indent=2)
        if as_json
        else f"{result.id}  {result.status:<8} {result.consumer} -> {result.port}  ({result.reason})"
    )


@access.command("request")
@click.argument("consumer")
@click.argument("port")
@click.option("--reason", required=True, help="The purpose the data is needed for.")
@click.option("--pii", is_flag=True, help="Ask to read PII columns in clear.")
@click.option("--expires", type=click.DateTime(formats=["%Y-%m-%d"]), default=None)
@click.option("--json", "as_json", is_flag=True)
def access_request(consumer: str, port: str, reason: str, pii: bool, expires, as_json: bool) -> None:
    """CONSUMER (domain/product) asks to read PORT (domain/product@vN)."""
    from meshwork.governance import access as flow

    # Missing grants must not stop the request that fixes them.
    _access_call(
        flow.request,
        _load_mesh(check_grants=False),
        consumer,
        port,
        reason,
        pii,
        expires.date() if expires else None,
        as_json=as_json,
    )


def _decision(name: str):
    @access.command(name, help=f"{name.capitalize()} an access request (REQUEST_ID from `mesh access list`).")
    @click.argument("request_id")
    @click.option("--by", required=True, help="Who takes the decision (recorded in the audit log).")
    @click.option(
        "--expires",
        type=click.DateTime(formats=["%Y-%m-%d"]),
        default=None,
        help="Set or change the expiry (approve only).",
    )
    @click.option("--json", "as_json", is_flag=True)
    def command(request_id: str, by: str, expires, as_json: bool) -> None:
        from meshwork.governance import access as flow

        _access_call(flow.decide, request_id, name, by, expires.date() if expires else None, as_json=as_json)

    return command


for _name in ("approve", "deny", "revoke"):
    _decision(_name)


@access.command("list")
@click.option("--json", "as_json", is_flag=True)
def access_list(as_json: bool) -> None:
    """Every request with its status; approvals missing from the audit log are flagged as forged."""
    from dataclasses import asdict

    from meshwork.governance import access as flow

    forged = {r.id for r in flow.approved_grants()[1]}
    rows = [{**asdict(r), "forged": r.id in forged} for r in flow.load()]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for r in rows:
        flag = "  FORGED: no matching approval in the audit log" if r["forged"] else ""
        click.echo(
            f"{r['id']}  {r['status']:<8} {r['consumer']} -> {r['port']}  expires {r['expires'] or 'never'}{flag}"
        )


@main.command()
@click.option("--subject", required=True, help="<key>=<value> of the data subject, e.g. customer_id=42")
@click.option("--no-rebuild", is_flag=True, help="Do not rebuild downstream aggregates (run mesh build later).")
@click.option("--json", "as_json", is_flag=True)
def erase(subject: str, no_rebuild: bool, as_json: bool) -> None:
    """Erase a data subject from sources, warehouses and every retained port snapshot (GDPR Art. 17)."""
    from dataclasses import asdict

    from meshwork.governance import erasure
    from meshwork.runtime import build as mesh_build

    mesh = _load_mesh()
    say = (lambda m: click.echo(m, err=True)) if as_json else click.echo

    def rebuild(domains: list[str]) -> bool:
        return mesh_build.build(mesh, domains, progress=say).ok

    try:
        cert = erasure.erase(mesh, subject, None if no_rebuild else rebuild, progress=say)
    except (erasure.ErasureError, ValueError) as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_INVALID)
    if as_json:
        click.echo(json.dumps(asdict(cert), indent=2))
    else:
        click.echo(
            f"erasure certificate {cert.id}: {cert.subject} removed from {len(cert.sources)} source file(s), "
            f"{len(cert.warehouses)} warehouse table(s), {len(cert.snapshots)} snapshot(s); "
            f"rebuilt {', '.join(cert.rebuilt_domains) or 'nothing'}; verified absent: {cert.verified_absent}"
        )
    sys.exit(EXIT_OK if cert.verified_absent else EXIT_FAILED)


@main.group()
def retention() -> None:
    """Purge port snapshots older than each product's declared retention."""


@retention.command("purge")
@click.option("--domain", "domains", multiple=True)
@click.option("--json", "as_json", is_flag=True)
def retention_purge(domains: tuple[str, ...], as_json: bool) -> None:
    """Delete expired snapshots and rows now (the code locations also do it daily at 03:00)."""
    from meshwork.governance import retention as policy

    removed = policy.purge(_load_mesh(), list(domains) or None)
    if as_json:
        click.echo(json.dumps(removed, indent=2))
    else:
        for product, items in removed.items():
            click.echo(f"{product}:")
            for item in items:
                click.echo(f"  purged {item}")
        click.echo(f"{len(removed)} product(s) had expired data")


@main.group()
def notices() -> None:
    """Notices the governance sensors sent to the owning teams (file outbox, webhook fallbacks)."""


@notices.command("list")
@click.option("--team", default=None, help="Only this team's notices.")
@click.option("--undelivered", is_flag=True, help="Only those a webhook has not accepted yet.")
@click.option("--json", "as_json", is_flag=True)
def notices_list(team: str | None, undelivered: bool, as_json: bool) -> None:
    from meshwork.governance import notify

    found = [
        n for n in notify.outbox() if (team is None or n["team"] == team) and (not undelivered or n.get("undelivered"))
    ]
    if as_json:
        click.echo(json.dumps(found, indent=2))
        return
    for n in found:
        late = " (undelivered)" if n.get("undelivered") else ""
        click.echo(
            f"{n['at'][:19]} {n['team']:<18} {n['state']:<8} {n['kind']:<6} {n['subject']}: {n['message']}{late}"
        )
    click.echo(f"{len(found)} notice(s)")


@notices.command("redeliver")
@click.option("--json", "as_json", is_flag=True)
def notices_redeliver(as_json: bool) -> None:
    """Send the notices the webhook (MESH_NOTIFY_WEBHOOK) missed; exit 1 if it still refuses them."""
    from dataclasses import asdict

    from meshwork.governance import notify

    delivery = notify.redeliver()
    if as_json:
        click.echo(json.dumps(asdict(delivery)))
    else:
        click.echo(
            f"delivered {delivery.delivered}, still queued {delivery.queued}"
            + (f": {delivery.error}" if delivery.error else "")
        )
    sys.exit(EXIT_FAILED if delivery.error else EXIT_OK)


@main.group()
def audit() -> None:
    """The hash-chained audit log of reads, grant decisions and erasures."""


@audit.command("verify")
@click.option("--json", "as_json", is_flag=True)
def audit_verify(as_json: bool) -> None:
    """Check the hash chain; exit 1 if any line was edited, removed, inserted or reordered."""
    from meshwork.core import audit as log

    problems = log.verify()
    if as_json:
        click.echo(json.dumps({"ok": not problems, "problems": problems, "entries": len(log.entries())}))
    else:
        click.echo("\n".join(problems) if problems else f"OK: {len(log.entries())} entries, chain intact")
    sys.exit(EXIT_FAILED if problems else EXIT_OK)


@audit.command("list")
@click.option("--action", default=None, help="e.g. port.read, port.read.refused, access")
@click.option("--consumer", default=None)
@click.option("--port", "port_ref", default=None, help="e.g. sales/orders@v1")
@click.option("--limit", type=int, default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True)
def audit_list(action: str | None, consumer: str | None, port_ref: str | None, limit: int, as_json: bool) -> None:
    """Query the audit log (newest last)."""
    from meshwork.core import audit as log

    rows = [
        r
        for r in log.entries(action)
        if (consumer is None or r.get("consumer") == consumer) and (port_ref is None or r.get("port") == port_ref)
    ][-limit:]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for r in rows:
        detail = " ".join(f"{k}={r[k]}" for k in ("consumer", "port", "snapshot", "run_id", "reason", "by") if r.get(k))
        click.echo(f"{r['at']}  {r['action']:<20} {detail}")


@main.group()
def contracts() -> None:
    """Contract versions and change management."""


@contracts.command("diff")
@click.option(
    "--against",
    "ref",
    default=None,
    help="Compare with the contracts at this git ref (e.g. origin/main) instead of the published ones.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON (for CI).")
def contracts_diff(ref: str | None, as_json: bool) -> None:
    """Classify every contract change as compatible or breaking and name the consumers it affects.

    Exits 1 only when a breaking change would reach a registered consumer without a new major
    version; 0 otherwise.
    """
    from meshwork.authoring.contract_diff import diff_mesh, git_baseline, published_baseline

    mesh = _load_mesh()
    baseline = git_baseline(ref, mesh.project_dir) if ref else published_baseline
    results = diff_mesh(mesh, baseline)
    blocked = [r for r in results if r.blocked]
    if as_json:
        click.echo(json.dumps({"ok": not blocked, "ports": [r.as_dict() for r in results]}, indent=2))
    else:
        for r in results:
            if r.verdict in ("new", "unchanged"):
                click.echo(f"{r.port:<40} {r.verdict}")
                continue
            click.echo(f"{r.port:<40} {r.verdict}: {r.old_version} -> {r.new_version} (against {r.baseline})")
            for change in r.changes:
                click.echo(f"    {'BREAKING' if change.breaking else 'ok      '} {change.kind}: {change.detail}")
            if r.breaking:
                click.echo(f"    consumers of {r.port}: {', '.join(r.consumers) or 'none registered'}")
        if blocked:
            click.echo(
                f"\n{len(blocked)} port(s) would break registered consumers: publish the change as a new major "
                "version (a new output port beside the old one), or make it compatible.",
                err=True,
            )
    sys.exit(EXIT_FAILED if blocked else EXIT_OK)


def _scaffold_call(fn, *args, as_json: bool = False, **kwargs) -> None:
    """Run a scaffolding step: exit 2 with the reason when it is refused (nothing was written)."""
    from meshwork.authoring.changeset import ScaffoldError

    try:
        result = fn(*args, **kwargs)
    except ScaffoldError as exc:
        click.echo(json.dumps({"ok": False, "error": str(exc)}, indent=2) if as_json else f"error: {exc}", err=True)
        sys.exit(EXIT_INVALID)
    click.echo(json.dumps(result.as_dict(), indent=2) if as_json else result.describe())


@main.group()
def new() -> None:
    """Create a domain or a data product that passes `mesh check` at once."""


@new.command("domain")
@click.argument("name")
@click.option("--owner", required=True, help="The owning team (becomes the Dagster owner team:<owner>).")
@click.option("--email", default=None, help="The team's contact email (default: <owner>@example.com, to edit).")
@click.option("--description", default=None, help="What the domain covers (default: a TODO to edit).")
@click.option("--json", "as_json", is_flag=True)
def new_domain(name: str, owner: str, email: str | None, description: str | None, as_json: bool) -> None:
    """Create domains/NAME/ and register it as a code location and a dbt group."""
    from meshwork.authoring import scaffold

    _scaffold_call(scaffold.new_domain, settings.project_dir(), name, owner, email, description, as_json=as_json)


@new.command("product")
@click.argument("key", metavar="DOMAIN/NAME")
@click.option("--kind", required=True, type=click.Choice(["source-aligned", "aggregate", "consumer-aligned"]))
@click.option("--impl", "engine", required=True, type=click.Choice(["dbt", "python"]))
@click.option("--input", "inputs", multiple=True, help="An input port, <domain>/<product>@v<major> (repeatable).")
@click.option("--purpose", default=None, help="What the product is (default: a TODO to edit).")
@click.option("--source", default=None, help="source-aligned: the <system>/<table> export it ingests.")
@click.option("--json", "as_json", is_flag=True)
def new_product(
    key: str, kind: str, engine: str, inputs: tuple[str, ...], purpose: str | None, source: str | None, as_json: bool
) -> None:
    """Create a product: descriptor, ODCS contract, dbt model or Python function, and a test."""
    from meshwork.authoring import scaffold

    _scaffold_call(
        scaffold.new_product,
        settings.project_dir(),
        key,
        kind,
        engine,
        list(inputs),
        purpose=purpose,
        source_spec=source,
        as_json=as_json,
    )


@main.group()
def onboard() -> None:
    """Bring an existing project into the mesh."""


@onboard.command("dbt")
@click.argument("path", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--domain", required=True, help="The new domain the project becomes.")
@click.option("--owner", required=True, help="The owning team.")
@click.option("--email", default=None, help="The team's contact email (default: <owner>@example.com, to edit).")
@click.option("--public", default=None, help="Models that become products, comma-separated (default: access: public).")
@click.option("--json", "as_json", is_flag=True)
def onboard_dbt(path: Path, domain: str, owner: str, email: str | None, public: str | None, as_json: bool) -> None:
    """Copy a standalone dbt-core project at PATH into the mesh as a domain; its public models become products."""
    from meshwork.authoring.onboard import onboard_dbt as run

    models = [m.strip() for m in public.split(",") if m.strip()] if public is not None else None
    _scaffold_call(run, settings.project_dir(), path, domain, owner, models, email, as_json=as_json)


class _LineageGroup(click.Group):
    """``mesh lineage D/P`` shows a product; ``mesh lineage replay`` is a subcommand."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            args = ["show", *args]
        return super().parse_args(ctx, args)


@main.group(cls=_LineageGroup)
def lineage() -> None:
    """OpenLineage: a product's lineage (mesh lineage D/P) and re-sending undelivered events."""


@lineage.command("show")
@click.argument("key", metavar="DOMAIN/PRODUCT")
@click.option("--depth", type=click.IntRange(min=1), default=3, show_default=True, help="Hops up and down.")
@click.option("--json", "as_json", is_flag=True)
def lineage_show(key: str, depth: int, as_json: bool) -> None:
    """Upstream and downstream products (across domains) and the lineage of the product's columns."""
    from meshwork.lineage.graph import product_lineage, render

    mesh = _load_mesh()
    if key not in mesh.products:
        known = ", ".join(sorted(mesh.products))
        click.echo(f"error: unknown product '{key}' (expected DOMAIN/PRODUCT, one of: {known})", err=True)
        sys.exit(EXIT_INVALID)
    result = product_lineage(mesh, key, depth)
    click.echo(json.dumps(result, indent=2) if as_json else render(result))


@lineage.command("replay")
@click.option("--json", "as_json", is_flag=True)
def lineage_replay(as_json: bool) -> None:
    """Re-send the events in the lineage outbox; delivered ones are removed. Exit 1 if some remain."""
    from meshwork.lineage import delivery

    outcome = delivery.replay()
    summary = {
        "delivered": outcome.delivered,
        "remaining": outcome.remaining,
        "errors": outcome.errors,
        "outbox": str(settings.lineage_outbox()),
    }
    if as_json:
        click.echo(json.dumps(summary, indent=2))
    else:
        click.echo(f"delivered {outcome.delivered}, {outcome.remaining} left in {summary['outbox']}")
        for error in outcome.errors:
            click.echo(f"  backend still refuses: {error}")
    sys.exit(EXIT_FAILED if outcome.remaining else EXIT_OK)


@main.group()
def catalog() -> None:
    """The static HTML catalog of every domain and product (plus catalog.json)."""


@catalog.command("build")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Output folder (default: $MESH_HOME/catalog, or MESH_CATALOG_DIR).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def catalog_build(out: Path | None, as_json: bool) -> None:
    """Write index.html with search, one page per product, and catalog.json."""
    from meshwork.catalog import site

    mesh = _load_mesh()
    try:
        summary = site.build(mesh, out)
    except OSError as exc:
        click.echo(f"error: cannot write the catalog: {exc}", err=True)
        sys.exit(EXIT_FAILED)
    if as_json:
        click.echo(
            json.dumps(
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
                },
                indent=2,
            )
        )
    else:
        click.echo(
            f"catalog of {len(summary.pages)} products written in {summary.seconds:.1f}s"
            f"{'' if summary.instance else ' (no Dagster instance: gate results unavailable)'}"
        )
        click.echo(f"open {summary.index.as_uri()}")
    sys.exit(EXIT_OK)


@main.command()
@click.option("--port", type=int, default=3000, show_default=True)
@click.option("--host", default="127.0.0.1", show_default=True)
def dev(port: int, host: str) -> None:
    """Start the Dagster UI and daemon (`dagster dev`) on the local instance with every domain."""
    import os

    from meshwork.runtime.instance import ensure_local_instance

    ensure_local_instance()
    dagster = Path(sys.executable).parent / "dagster"
    env = settings.subprocess_env()
    click.echo(f"Dagster UI on http://{host}:{port} (instance: {settings.dagster_home()})")
    os.chdir(settings.project_dir())
    os.execve(str(dagster), [str(dagster), "dev", "-w", "workspace.yaml", "-h", host, "-p", str(port)], env)


if __name__ == "__main__":
    main()
