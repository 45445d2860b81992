"""Test helpers for lineage: the OpenLineage schema validator and a real HTTP receiver on 127.0.0.1."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jsonschema
import referencing
from referencing.jsonschema import DRAFT202012

SPEC = Path(__file__).resolve().parent / "openlineage_spec"
PLATFORM_SCHEMAS = Path(__file__).resolve().parents[1] / "platform/meshwork/lineage/schemas"
RUN_EVENT = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"


@cache
def registry() -> referencing.Registry:
    resources = []
    for path in [*SPEC.rglob("*.json"), *PLATFORM_SCHEMAS.glob("*.json")]:
        schema = json.loads(path.read_text(encoding="utf-8"))
        resources.append((schema["$id"], referencing.Resource.from_contents(schema, default_specification=DRAFT202012)))
    return referencing.Registry().with_resources(resources)


def _errors(instance: Any, ref: str) -> list[str]:
    validator = jsonschema.Draft202012Validator(
        {"$ref": ref}, registry=registry(), format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    return [
        f"{ref} at /{'/'.join(map(str, e.absolute_path))}: {e.message[:300]}" for e in validator.iter_errors(instance)
    ]


def facets_of(event: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(where, facet) for every facet of a run event."""
    yield from ((f"run.{k}", v) for k, v in event["run"].get("facets", {}).items())
    yield from ((f"job.{k}", v) for k, v in event["job"].get("facets", {}).items())
    for side in ("inputs", "outputs"):
        for dataset in event.get(side, []):
            for group in ("facets", "inputFacets", "outputFacets"):
                for k, v in dataset.get(group, {}).items():
                    yield f"{side}[{dataset['name']}].{group}.{k}", v


def schema_errors(event: dict[str, Any]) -> list[str]:
    """Everything wrong with an event: against the run event schema, then each facet against its own."""
    errors = _errors(event, RUN_EVENT)
    for where, facet in facets_of(event):
        url = facet.get("_schemaURL")
        if not url:
            errors.append(f"{where}: no _schemaURL")
            continue
        errors += [f"{where}: {e}" for e in _errors(facet, url)]
    return errors


@dataclass
class Receiver:
    """An OpenLineage HTTP endpoint: collects the events POSTed to it."""

    port: int
    events: list[dict[str, Any]] = field(default_factory=list)
    delay: float = 0.0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@contextmanager
def receiver(port: int = 0, delay: float = 0.0) -> Iterator[Receiver]:
    """Serve on 127.0.0.1 (a free port, or ``port``) in a thread; ``delay`` seconds before answering."""
    state = Receiver(port=port, delay=delay)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if state.delay:
                time.sleep(state.delay)
            state.events.append(json.loads(body))
            self.send_response(201)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


def free_port() -> int:
    """A port nothing listens on (connections are refused)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def read_events(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
