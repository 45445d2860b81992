"""The files ``mesh new`` and ``mesh onboard`` write, in the style of the example domains.

Plain string templates (``str.format``): what they produce is what a person would have written by
hand, so the output reads like the rest of the repository rather than like generated code.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from meshwork.authoring import odps_upgrade
from meshwork.model import odps
from meshwork.model.descriptors import InputPort, Owner, ProductKind
from meshwork.model.mesh import Port

_PLAIN = re.compile(r"^[A-Za-z][A-Za-z0-9_ ]*[A-Za-z0-9_]$|^[A-Za-z]$")  # needs no YAML quotes
DEFAULT_SCHEDULE = "0 2 * * *"  # source-aligned products ingest nightly until the owner says otherwise


@dataclass(frozen=True)
class ColumnDraft:
    """One column of a contract being drafted (ODCS property)."""

    name: str
    physical_type: str
    logical_type: str
    description: str | None = None
    classification: str | None = None
    required: bool = False
    unique: bool = False
    primary_key: bool = False
    primary_key_position: int | None = None


def logical_type(physical_type: str) -> str:
    """The ODCS logicalType of a DuckDB type."""
    kind = physical_type.upper().strip()
    if kind.endswith("[]"):
        return "array"
    if kind.startswith(("STRUCT", "MAP")):
        return "object"
    if kind.removeprefix("U") in {"TINYINT", "SMALLINT", "INTEGER", "INT", "BIGINT", "HUGEINT"}:
        return "integer"
    if kind.startswith(("DECIMAL", "NUMERIC", "DOUBLE", "FLOAT", "REAL")):
        return "number"
    if kind == "DATE":
        return "date"
    if kind.startswith("TIMESTAMP") or kind == "DATETIME":
        return "timestamp"
    if kind.startswith("TIME"):
        return "time"
    if kind in {"BOOLEAN", "BOOL"}:
        return "boolean"
    return "string"


def quoted(value: str) -> str:
    """A double-quoted YAML string (a JSON string is one)."""
    return json.dumps(value, ensure_ascii=False)


def _scalar(value: str) -> str:
    """A YAML scalar: bare when it is a plain word, double-quoted otherwise."""
    if _PLAIN.match(value) and value.lower() not in {"true", "false", "null", "yes", "no", "on", "off", "y", "n"}:
        return value
    return quoted(value)


def contract_property(c: ColumnDraft) -> str:
    fields = [f"name: {c.name}", f"logicalType: {c.logical_type}", f"physicalType: {_scalar(c.physical_type)}"]
    if c.primary_key:
        fields.append("primaryKey: true")
        if c.primary_key_position:
            fields.append(f"primaryKeyPosition: {c.primary_key_position}")
    if c.required or c.primary_key:
        fields.append("required: true")
    if c.unique:
        fields.append("unique: true")
    if c.classification:
        fields.append(f"classification: {c.classification}")
    if c.description:
        fields.append(f"description: {quoted(c.description)}")
    return "      - {" + ", ".join(fields) + "}"


def contract(domain: str, product: str, title: str, purpose: str, columns: list[ColumnDraft]) -> str:
    properties = "\n".join(contract_property(c) for c in columns)
    return f"""\
apiVersion: v3.1.0
kind: DataContract
id: {domain}.{product}
name: {_scalar(title)}
version: 1.0.0
status: draft
domain: {domain}
dataProduct: {product}
description:
  purpose: {quoted(purpose)}
schema:
  - name: {product}
    physicalType: table
    properties:
{properties}
"""


def dbt_column(c: ColumnDraft) -> str:
    fields = [f"name: {c.name}", f"data_type: {_scalar(c.physical_type.lower())}"]
    if c.primary_key:
        fields.append("constraints: [{type: not_null}]")
    return "      - {" + ", ".join(fields) + "}"


def dbt_model_yml(domain: str, product: str, model: str, columns: list[ColumnDraft]) -> str:
    cols = "\n".join(dbt_column(c) for c in columns)
    keys = [c.name for c in columns if c.primary_key]
    unique = [c.name for c in columns if c.unique and not (c.primary_key and len(keys) > 1)]
    tests = "".join(f"\n      - unique: {{column_name: {name}}}" for name in unique)
    return f"""\
models:
  - name: {model}
    description: Product {domain}/{product}. Contract - domains/{domain}/contracts/{product}.odcs.yaml.
    access: public
    config:
      contract: {{enforced: true}}
    columns:
{cols}
""" + (f"    data_tests:{tests}\n" if tests else "")


DEFINITIONS = """\
import dagster as dg

from meshwork.locations.domain import domain_definitions


@dg.definitions
def defs() -> dg.Definitions:
    return domain_definitions("{domain}")
"""

DOMAIN_INIT = '"""The {domain} domain."""\n'

PRODUCTS_INIT = '"""Python implementations of the {domain} domain\'s products."""\n'

DOMAIN_YAML = """\
name: {domain}
description: {description}
owner: {{team: {team}, email: {email}}}
"""

WORKSPACE_ENTRY = """\
- python_module:
    module_name: domains.{domain}.definitions
    location_name: {domain}
"""

DBT_GROUP = """\
- name: {domain}
  owner: {{name: {team}, email: {email}}}
"""

DBT_MODELS_CONFIG = """\
{domain}:
  +group: {domain}
  staging: {{+materialized: view, +access: private}}
"""

DBT_SEEDS_CONFIG = """\
{domain}:
  +group: {domain}
"""

PORTS_FILE = """\
# Output ports of the {domain} domain, as a consumer's dbt sees them: the port reader exposes each
# declared input as the view port_<domain>.<product>_v<major> in the consumer's own warehouse.
sources:
  - name: port_{domain}
    schema: port_{domain}
    description: Published output ports of the {domain} domain.
    tables:
"""

PORT_TABLE = """\
- name: {product}_v{major}
  description: {domain}/{product}@v{major}
"""

LANDING_SOURCES = """\
# {system}'s export of {table}, landed as Parquet files under $MESH_HOME/sources/{system}/{table}/.
sources:
  - name: {system}
    description: TODO - the operational system this domain ingests.
    meta:
      external_location: "read_parquet('{{{{ var('mesh_sources', 'MESH_SOURCES') }}}}/{system}/{{name}}/*.parquet')"
    tables:
      - name: {table}
"""

PRODUCT_TEST = '''\
"""{key}: what its implementation builds from sample inputs fits its contract.

Edit the rows to exercise the product's logic; `run_product` builds the product in an in-memory
DuckDB exactly as its code location would, then runs every rule of its contract on the result.
"""

from meshwork.runtime.testing import run_product

PRODUCT = "{key}"


def test_sample_inputs_build_a_table_that_fits_the_contract():
    run = run_product(
        PRODUCT,
{arguments}
    )
    assert run.passed, run.describe()
    assert len(run.rows) == {expected_rows}
'''


@dataclass(frozen=True)
class Input:
    port: InputPort
    producer: Port
    alias: str  # the name the product's SQL reads it by


def sample_value(column) -> object:
    """A plausible non-null value for a contract column (for the generated test's sample rows)."""
    prop = getattr(column, "prop", None)
    allowed = [getattr(e, "value", e) for e in getattr(prop, "enum", None) or []]
    for rule in getattr(prop, "quality", None) or []:  # quality: {metric: invalidValues, arguments: {validValues}}
        arguments = getattr(rule, "arguments", None)
        if getattr(rule, "metric", None) == "invalidValues" and isinstance(arguments, dict):
            allowed = allowed or list(arguments.get("validValues") or [])
    if allowed:
        return allowed[0]
    return {
        "integer": 1,
        "number": 1.5,
        "boolean": True,
        "date": "2024-01-01",
        "timestamp": "2024-01-01 00:00:00",
        "time": "12:00:00",
    }.get(logical_type(column.physical_type), f"{column.name}_1")


def descriptor(
    domain: str,
    name: str,
    kind: ProductKind,
    engine: str,
    model: str | None,
    purpose: str,
    inputs: list[Input],
    freshness: str,
    sources: list[tuple[str, str]],
    owner: Owner | None = None,
) -> str:
    """An ODPS v1.0.0 product descriptor, Meshwork's own fields in ``customProperties``."""
    sla = {"freshness": freshness, **({"schedule": DEFAULT_SCHEDULE} if kind == ProductKind.SOURCE_ALIGNED else {})}
    data: dict = {"apiVersion": odps.VERSION, "kind": "DataProduct", "id": f"{domain}.{name}", "name": name}
    data |= {"version": "1.0.0", "domain": domain, "status": "draft", "description": {"purpose": purpose}}
    if owner:
        data["team"] = {"name": owner.team}
        if owner.email:
            data["support"] = [{"channel": owner.team, "url": f"mailto:{owner.email}", "tool": "email"}]
    if inputs:
        data["inputPorts"] = [i.port.model_dump(by_alias=True) for i in inputs]
    port = {"name": name, "version": "v1", "contractId": f"{domain}.{name}"}
    data["outputPorts"] = [{**port, "customProperties": odps.custom(visibility="public")}]
    data["customProperties"] = odps.custom(
        productKind=kind.value,
        implementation={"engine": engine, **({"model": model} if model else {})},
        sources=[{"system": s, "table": n} for s, n in sources] or None,
        sla=sla,
    )
    return odps_upgrade.dump(data)


def _select(columns: list[ColumnDraft], indent: str, prefix: str = "") -> str:
    return ",\n".join(f"{indent}{prefix}{c.name}" for c in columns)


def _todo(domain: str, name: str, comment: str, indent: str) -> str:
    return (
        f"{indent}{comment} TODO: the product's logic. Keep its columns in step with the contract\n"
        f"{indent}{comment} domains/{domain}/contracts/{name}.odcs.yaml.\n"
    )


def dbt_model_sql(
    domain: str,
    name: str,
    columns: list[ColumnDraft],
    inputs: list[Input],
    passthrough: bool,
    source: tuple[str, str] | None,
    same_domain_models: dict[str, str],
) -> str:
    ctes = []
    if source:
        ctes.append(f"source as (\n    select * from {{{{ source('{source[0]}', '{source[1]}') }}}}\n)")
    for i in inputs:
        ref = same_domain_models.get(i.port.product)
        relation = f"ref('{ref}')" if ref else f"source('port_{i.port.domain}', '{i.port.name}_v{i.port.major}')"
        ctes.append(f"{i.alias} as (\n    select * from {{{{ {relation} }}}}\n)")
    head = ("with " + ",\n\n".join(ctes) + "\n\n") if ctes else ""
    if source:
        body = "select\n    cast(id as bigint) as id\nfrom source\n"
    elif passthrough:
        body = f"select\n{_select(columns, '    ')}\nfrom {inputs[0].alias}\n"
    else:
        body = "select\n    cast(1 as bigint) as id\n"
    return head + _todo(domain, name, "--", "") + body


def python_module(
    domain: str,
    name: str,
    purpose: str,
    columns: list[ColumnDraft],
    inputs: list[Input],
    passthrough: bool,
    source: tuple[str, str] | None,
) -> str:
    todo = _todo(domain, name, "--", " " * 8)
    head = f'"""{purpose}"""\n\nimport duckdb\n\nfrom meshwork.runtime.python_products import ProductContext\n\n\n'
    head += "def build(ctx: ProductContext) -> duckdb.DuckDBPyRelation:\n"
    if source:
        return head + (
            f'    export = ctx.source_path("{source[0]}", "{source[1]}") / "*.parquet"\n'
            "    return ctx.con.sql(\n"
            '        """\n'
            f"{todo}"
            "        SELECT\n"
            "            CAST(id AS BIGINT) AS id\n"
            "        FROM read_parquet(?)\n"
            '        """,\n'
            "        params=[str(export)],\n"
            "    )\n"
        )
    if not passthrough:
        return head + (
            f'    return ctx.con.sql(\n        """\n{todo}        SELECT CAST(1 AS BIGINT) AS id\n        """\n    )\n'
        )
    select = f"        SELECT\n{_select(columns, ' ' * 12)}\n        FROM {inputs[0].alias}\n"
    if len(inputs) == 1:
        i = inputs[0]
        return head + (
            f'    {i.alias} = ctx.input("{i.port.product}")\n'
            f"    return {i.alias}.query(\n"
            f'        "{i.alias}",\n'
            '        """\n'
            f"{todo}{select}"
            '        """,\n'
            "    )\n"
        )
    registered = "".join(f'    ctx.con.register("{i.alias}", ctx.input("{i.port.product}"))\n' for i in inputs)
    return head + (
        "    # Each declared input port as a relation over its latest snapshot, queryable by name.\n"
        f"{registered}"
        '    return ctx.con.sql(\n        """\n'
        f"{todo}{select}"
        '        """\n    )\n'
    )


def _python_literal(value: object, indent: int) -> str:
    pad = " " * indent
    if isinstance(value, dict):
        if not value:
            return "{}"
        inner = "".join(f"{pad}    {json.dumps(k)}: {_python_literal(v, indent + 4)},\n" for k, v in value.items())
        return "{\n" + inner + pad + "}"
    if isinstance(value, list):
        if not value:
            return "[]"
        inner = "".join(f"{pad}    {_python_literal(v, indent + 4)},\n" for v in value)
        return "[\n" + inner + pad + "]"
    return json.dumps(value, ensure_ascii=False) if isinstance(value, str) else repr(value)


def product_test(key: str, inputs: list[Input], source: tuple[str, str] | None) -> str:
    arguments = []
    if inputs:
        rows = {
            i.port.product: [{c.name: sample_value(c) for c in i.producer.contract.columns}] if n == 0 else []
            for n, i in enumerate(inputs)
        }
        arguments.append(f"        inputs={_python_literal(rows, 8)},")
    if source:
        arguments.append(f"        sources={_python_literal({f'{source[0]}/{source[1]}': [{'id': 1}]}, 8)},")
    return PRODUCT_TEST.format(key=key, arguments="\n".join(arguments) or "        inputs={},", expected_rows=1)
