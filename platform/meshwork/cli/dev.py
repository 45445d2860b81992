"""``mesh dev``: the Dagster UI and daemon (``dagster dev``) with every domain, and the catalog served
over HTTP beside them, each linking to the other."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from types import FrameType

import click

from meshwork.catalog import serve
from meshwork.cli import output
from meshwork.cli.output import EXIT_FAILED
from meshwork.core import settings
from meshwork.runtime.instance import ensure_local_instance


def _link_host(host: str) -> str:
    """The host to put in links: a wildcard address is not one a browser can open."""
    return "127.0.0.1" if host in ("0.0.0.0", "::", "") else host


@click.command("dev")
@click.option("--port", type=click.IntRange(1, 65535), default=3000, show_default=True, help="The Dagster UI's port.")
@click.option("--host", default="127.0.0.1", show_default=True, help="The address both servers listen on.")
@click.option(
    "--catalog-port",
    type=click.IntRange(1, 65535),
    default=None,
    help="The catalog's port (default: MESH_CATALOG_PORT, else 3001).",
)
def dev_command(port: int, host: str, catalog_port: int | None) -> None:
    """Start the Dagster UI and daemon (`dagster dev`) on the local instance with every domain.

    The catalog is served beside it on http://HOST:CATALOG_PORT, rebuilt when a page is opened after a
    change. Each asset in the UI links to its catalog page and each catalog page to its asset (unless
    MESH_CATALOG_URL or MESH_DAGSTER_URL say where they are served instead). Exit codes: dagster dev's;
    1 when the catalog's port is taken.
    """
    try:
        catalog_port = catalog_port or settings.catalog_port()
    except ValueError as exc:
        output.fail(str(exc), EXIT_FAILED)
    ensure_local_instance()
    # Set here so both this process's catalog builds and every Dagster process below see them.
    os.environ.setdefault("MESH_CATALOG_URL", f"http://{_link_host(host)}:{catalog_port}")
    os.environ.setdefault("MESH_DAGSTER_URL", f"http://{_link_host(host)}:{port}")
    catalog = serve.Catalog(settings.catalog_dir())
    try:
        httpd = serve.server(catalog, host, catalog_port)
    except OSError as exc:
        output.fail(f"cannot serve the catalog on {host}:{catalog_port}: {exc.strerror or exc}", EXIT_FAILED)
    threading.Thread(target=httpd.serve_forever, name="catalog-server", daemon=True).start()
    say = output.say()
    say(f"Dagster UI on {settings.dagster_url()} (instance: {settings.dagster_home()})")
    say(f"catalog on {settings.catalog_url()}/index.html (folder: {settings.catalog_dir()})")
    dagster = Path(sys.executable).parent / "dagster"
    command = [str(dagster), "dev", "-w", "workspace.yaml", "-h", host, "-p", str(port)]
    # A process started in the background inherits SIGINT ignored, and dagster dev would then ignore the
    # SIGINT it stops on: a handled signal is reset to its default in the child, an ignored one is not.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    proc = subprocess.Popen(command, cwd=settings.project_dir(), env=settings.subprocess_env())

    def stop(signum: int, frame: FrameType | None) -> None:
        # dagster dev shuts its webserver, daemon and code servers down on SIGINT, not on SIGTERM.
        proc.send_signal(signal.SIGINT)

    signal.signal(signal.SIGTERM, stop)
    try:
        returncode = proc.wait()
    except KeyboardInterrupt:  # Ctrl-C reached dagster dev too (same process group): let it finish
        returncode = proc.wait()
    finally:
        httpd.shutdown()
        httpd.server_close()
    sys.exit(returncode)
