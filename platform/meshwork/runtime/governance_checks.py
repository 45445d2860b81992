"""The platform's runtime checks on every product, ``governance``, ``sla`` and ``grants``: how they are
evaluated and how a domain's code location declares them.

``governance``: the same policies as `mesh check` (with the whole asset graph when a loader is given),
the problems that stop the product's domain from loading, and pinned input versions that are deprecated
or will be removed within ``MESH_REMOVAL_NOTICE_DAYS``.
``sla``: age of the latest published snapshot of each live port against ``sla.freshness``.
``grants``: the product's grants on restricted inputs: missing, expired or expiring soon.

Each domain's code location declares these checks on its own products (:func:`domain_checks`), so a
Materialize in the Dagster UI, which selects an asset with every check shown on it, always selects
checks its own location defines. The platform location's sensors evaluate the same checks on an
interval for every product and record the results by check key (:mod:`meshwork.locations.governance_sensors`).
"""

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta

import dagster as dg

from meshwork.core import durations, settings
from meshwork.governance.notify import Notice
from meshwork.governance.policies import find_violations
from meshwork.model.descriptors import Visibility
from meshwork.model.loader import load_mesh
from meshwork.model.mesh import Mesh, Product
from meshwork.ports.publish import live_ports
from meshwork.storage import snapshots

GOVERNANCE, SLA, GRANTS = "governance", "sla", "grants"
CHECKS = (GOVERNANCE, SLA, GRANTS)


@dataclass
class Evaluation:
    product: str
    check: str
    passed: bool
    severity: str  # error | warn: how bad it is when not passed
    description: str
    findings: list[str] = field(default_factory=list)
    notices: list[Notice] = field(default_factory=list)

    def asset_key(self) -> dg.AssetKey:
        return dg.AssetKey(self.product.split("/"))

    def metadata(self) -> dict:
        return {
            "findings": dg.MetadataValue.md("\n".join(f"- {f}" for f in self.findings) or "none"),
            "count": len(self.findings),
        }

    def _severity(self) -> dg.AssetCheckSeverity:
        return dg.AssetCheckSeverity.ERROR if self.severity == "error" else dg.AssetCheckSeverity.WARN

    def to_event(self) -> dg.AssetCheckEvaluation:
        return dg.AssetCheckEvaluation(
            asset_key=self.asset_key(),
            check_name=self.check,
            passed=self.passed,
            severity=self._severity(),
            description=self.description,
            metadata=self.metadata(),
        )

    def to_result(self) -> dg.AssetCheckResult:
        return dg.AssetCheckResult(
            asset_key=self.asset_key(),
            check_name=self.check,
            passed=self.passed,
            severity=self._severity(),
            description=self.description,
            metadata=self.metadata(),
        )


def _team(mesh: Mesh, product_or_domain: str) -> str:
    domain = mesh.domains.get(product_or_domain.split("/")[0])
    return domain.descriptor.owner.team if domain else "platform"


def _with_contacts(mesh: Mesh, evaluations: list[Evaluation]) -> list[Evaluation]:
    """Each notice names its team's address (the domain owner's e-mail), so a receiver can route it."""
    emails = {d.descriptor.owner.team: d.descriptor.owner.email for d in mesh.domains.values()}
    for ev in evaluations:
        ev.notices = [replace(n, contact=n.contact or emails.get(n.team)) for n in ev.notices]
    return evaluations


GraphLoader = Callable[[], dict[str, list[dg.AssetSpec]]] | None


def _products(mesh: Mesh, only: set[str] | None) -> list[Product]:
    return [p for p in mesh.products.values() if only is None or p.key in only]


def _definition_notices(mesh: Mesh, product: Product) -> tuple[list[str], list[Notice]]:
    """What stops the product's domain from loading (told to its team), and the pinned versions it must
    leave soon (told to the consumer's and the producer's teams), as finding lines and notices."""
    lines, notices = [], []
    team = _team(mesh, product.key)
    loaded = mesh.products
    domain = mesh.broken.get(product.domain, [])
    first = next(p.key for p in mesh.domains[product.domain].products) == product.key
    for problem in domain:
        # A product left out of the mesh has no evaluation of its own: the domain's first product tells it.
        if problem.product == product.key or (first and problem.product not in loaded):
            lines.append(f"ERROR definition: {problem}")
            notices.append(Notice(team, "definition", problem.product or product.domain, "error", problem.reason))
    if domain and not lines:
        lines.append(f"ERROR definition: domain '{product.domain}' does not load ({len(domain)} problem(s))")
    for warning in mesh.warnings():
        if warning.product == product.key:
            lines.append(f"WARN version: {warning.reason}")
            producer = next((i.domain for i in product.inputs if f"'{i.ref}'" in warning.reason), product.domain)
            for to in dict.fromkeys([team, _team(mesh, producer)]):
                notices.append(Notice(to, "version", product.key, "warn", warning.reason))
    return lines, notices


def policy_evaluations(mesh: Mesh, asset_graph: GraphLoader = None, only: set[str] | None = None) -> list[Evaluation]:
    findings = find_violations(mesh, asset_graph)
    out = []
    for product in _products(mesh, only):
        # A finding about a whole domain concerns each of its products.
        mine = [f for f in findings if f.subject in (product.key, product.domain)]
        lines = [f"{f.severity.upper()} {f.policy}: {f.message}" for f in mine]
        extra_lines, extra_notices = _definition_notices(mesh, product)
        errors = [f for f in mine if f.severity == "error"] + [x for x in extra_lines if x.startswith("ERROR")]
        out.append(
            Evaluation(
                product.key,
                GOVERNANCE,
                passed=not errors,
                severity="error" if errors else "warn",
                description=f"{len(errors)} error(s), {len(mine) + len(extra_lines) - len(errors)} warning(s)",
                findings=lines + extra_lines,
                notices=[
                    Notice(_team(mesh, f.subject), "policy", product.key, f.severity, f"{f.policy}: {f.message}")
                    for f in mine
                ]
                + extra_notices,
            )
        )
    return out


def sla_evaluations(mesh: Mesh, now: datetime, only: set[str] | None = None) -> list[Evaluation]:
    """The freshness of each product's live ports (a major past its removal date is no longer published,
    so it cannot breach anything). A finding's text carries the port's age; its notice does not, so a
    port that merely stays stale is one open notice, not a new one (and a false "resolved") per tick."""
    out = []
    for product in _products(mesh, only):
        window, sla = product.descriptor.sla.freshness_window, product.descriptor.sla.freshness
        lines, notices = [], []
        for port in live_ports(product, now.date()):
            snapshot = snapshots.latest_snapshot(product.domain, product.name, port.major)
            if snapshot is None:
                line = f"{port.ref} has never been published (freshness {sla})"
                lines.append(line)
                notices.append(line)
                continue
            published = snapshots.read_manifest(product.domain, product.name, port.major, snapshot).created_at
            age = now - published
            if age > window:
                lines.append(
                    f"{port.ref} is {durations.humanize(age)} old, over its {sla} freshness SLA (snapshot {snapshot})"
                )
                notices.append(f"{port.ref} breaches its {sla} freshness SLA: the latest snapshot is {snapshot}")
        out.append(
            Evaluation(
                product.key,
                SLA,
                passed=not lines,
                severity="error",
                description="within its freshness SLA" if not lines else f"{len(lines)} port(s) breach the SLA",
                findings=lines,
                notices=[Notice(_team(mesh, product.key), "sla", product.key, "error", text) for text in notices],
            )
        )
    return out


def grant_evaluations(mesh: Mesh, today: date, notice_days: int, only: set[str] | None = None) -> list[Evaluation]:
    """A consumer's grants on its restricted inputs, from descriptors and approved requests."""
    out = []
    for product in _products(mesh, only):
        lines, notices, worst = [], [], "warn"
        for port in product.inputs:
            producer = mesh.products.get(port.product)
            out_port = producer.port(port.major) if producer else None
            if producer is None or out_port is None or out_port.visibility != Visibility.RESTRICTED:
                continue
            if producer.domain == product.domain:
                continue
            grants = [
                g
                for g in [*out_port.spec.grants, *mesh.runtime_grants.get(out_port.ref, [])]
                if g.consumer == product.key
            ]
            valid = [g for g in grants if g.is_valid(today)]
            if not valid:
                worst = "error"
                why = f"expired on {max(g.expires for g in grants if g.expires)}" if grants else "is missing"
                line = f"the grant on {out_port.ref} {why}: reads are refused"
            elif all(g.expires for g in valid):
                last = max(g.expires for g in valid if g.expires)
                if last - today > timedelta(days=notice_days):
                    continue
                line = f"the grant on {out_port.ref} expires on {last} ({(last - today).days} day(s) left)"
            else:
                continue
            lines.append(line)
            # The consumer must renew; the producer decides, so both hear about it.
            for team in dict.fromkeys([_team(mesh, product.key), _team(mesh, producer.key)]):
                notices.append(Notice(team, "grant", product.key, worst, line))
        out.append(
            Evaluation(
                product.key,
                GRANTS,
                passed=not lines,
                severity=worst,
                description="grants are valid" if not lines else f"{len(lines)} grant(s) need action",
                findings=lines,
                notices=notices,
            )
        )
    return out


def evaluations_for(
    check: str,
    mesh: Mesh,
    now: datetime | None = None,
    asset_graph: GraphLoader = None,
    only: set[str] | None = None,
) -> list[Evaluation]:
    """The evaluations of ``check`` for every product, or for the products in ``only``."""
    now = now or datetime.now(UTC)
    if check == GOVERNANCE:
        return _with_contacts(mesh, policy_evaluations(mesh, asset_graph, only))
    if check == SLA:
        return _with_contacts(mesh, sla_evaluations(mesh, now, only))
    return _with_contacts(mesh, grant_evaluations(mesh, now.date(), settings.grant_notice_days(), only))


def load() -> Mesh:
    # Grants are one of these checks' subjects, so a missing one must not stop the mesh from loading;
    # a broken domain is one of the governance check's findings, so it must not stop it either.
    return load_mesh(check_grants=False, strict=False)


DESCRIPTIONS: dict[str, Callable[[Product], str]] = {
    GOVERNANCE: lambda p: "Every global policy and its domain's policies hold for this product.",
    SLA: lambda p: f"Every output port was published within the last {p.descriptor.sla.freshness}.",
    GRANTS: lambda p: "Every restricted input is read under a valid grant that is not about to expire.",
}


def check_name(domain: str, check: str) -> str:
    return f"{domain}_{check}_checks"


def domain_checks(mesh: Mesh, domain: str, asset_graph: GraphLoader = None) -> list[dg.AssetChecksDefinition]:
    """The three runtime checks on ``domain``'s products, evaluated on demand (a Materialize, a build)."""
    return [_domain_check(mesh.domains[domain].products, domain, check, asset_graph) for check in CHECKS]


def _domain_check(products: tuple[Product, ...], domain: str, check: str, asset_graph: GraphLoader):
    specs = [
        dg.AssetCheckSpec(check, asset=dg.AssetKey([p.domain, p.name]), description=DESCRIPTIONS[check](p))
        for p in products
    ]

    @dg.multi_asset_check(specs=specs, name=check_name(domain, check), can_subset=True)
    def _run(context: dg.AssetCheckExecutionContext):
        selected = {(k.asset_key, k.name) for k in context.selected_asset_check_keys}
        # Only the selected products: a domain's run reads its own ports, and in the enforced mode its
        # storage keys could not read another domain's anyway.
        only = {"/".join(key.path) for key, _ in selected}
        for ev in evaluations_for(check, load(), asset_graph=asset_graph, only=only):
            if (ev.asset_key(), ev.check) in selected:
                yield ev.to_result()

    return _run
