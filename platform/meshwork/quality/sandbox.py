"""Where a contract's ``type: sql`` rule runs: a DuckDB that sees the validated table and nothing else.

The rule's text comes from a domain's contract, so it is run as untrusted code. The validated table
is exported once per validation to an Arrow file in a private folder (mode 0700, removed afterwards).
Each rule then gets a fresh in-memory DuckDB (so one rule cannot tamper with the next) in which that
file is registered as a pyarrow dataset and shown as the view ``sql_rules.TABLE``. The file is read
by Arrow, not by DuckDB, so DuckDB is given no path at all: with external access off and the
configuration locked, every file read or write (COPY, ATTACH, ``read_parquet``, INSTALL…) is a
permission error, and so is the rule's own export file. A timer interrupts a rule that runs too long.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
from pathlib import Path
from typing import Any

import duckdb

from meshwork.core import settings
from meshwork.core.names import quote
from meshwork.model import sql_rules

_DATA = "_rule_data"  # the registered dataset; the rule reads the typed view over it
_BATCH_ROWS = 256_000


class SandboxError(Exception):
    """Why a SQL rule could not run, in words for the quality report."""


class Snapshot:
    """The validated table, exported to a private folder on first use and removed by :meth:`close`.

    Contracts without SQL rules never ask for :attr:`path`, so they pay nothing.
    """

    def __init__(self, con: duckdb.DuckDBPyConnection, table: str):
        self.con = con
        self.table = table
        self.folder: Path | None = None
        self._path: Path | None = None

    @property
    def path(self) -> Path:
        if self._path is None:
            # Deferred: pyarrow takes a third of a second to import and only SQL rules need it.
            import pyarrow.ipc as ipc

            # mkdtemp makes the folder readable by this user only (0700); in the mesh's own tmp folder.
            settings.duckdb_temp_dir().mkdir(parents=True, exist_ok=True)
            self.folder = Path(tempfile.mkdtemp(prefix="sql-rule-", dir=settings.duckdb_temp_dir()))
            path = self.folder / "table.arrow"
            try:
                reader = self.con.sql(f"SELECT * FROM {quote(self.table)}").to_arrow_reader(_BATCH_ROWS)
                with ipc.new_file(path, reader.schema, options=ipc.IpcWriteOptions(compression="zstd")) as out:
                    for batch in reader:
                        out.write_batch(batch)
            except duckdb.Error as exc:
                raise SandboxError(f"the table could not be handed to the rule's sandbox: {exc}") from exc
            self._path = path
        return self._path

    def close(self) -> None:
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
        self.folder = self._path = None

    def __enter__(self) -> Snapshot:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def check(query: str) -> None:
    """DuckDB's own parser as a second opinion on the static gate: one statement, and a SELECT."""
    try:
        statements = duckdb.extract_statements(query)
    except duckdb.Error as exc:
        raise SandboxError(f"the query cannot be parsed: {exc}") from exc
    if len(statements) != 1 or statements[0].type != duckdb.StatementType.SELECT:
        kinds = ", ".join(s.type.name for s in statements) or "nothing"
        raise SandboxError(f"not run: a rule must be one SELECT, DuckDB reads {kinds}")


def connect(data: Path, types: dict[str, str]) -> duckdb.DuckDBPyConnection:
    """A fresh locked DuckDB whose only data is ``data`` (an export of :class:`Snapshot`), as ``sql_rules.TABLE``."""
    # Deferred: pyarrow takes a third of a second to import and only SQL rules need it.
    import pyarrow.dataset as ds

    con = duckdb.connect(
        config={
            "temp_directory": "",  # no spilling to disk: the sandbox writes nothing
            "autoload_known_extensions": False,
            "autoinstall_known_extensions": False,
            "allow_community_extensions": False,
            "allow_persistent_secrets": False,
            "python_enable_replacements": False,  # no reading the caller's Python variables by name
            "threads": 1,
            "memory_limit": settings.duckdb_memory_limit(),
        }
    )
    try:
        con.register(_DATA, ds.dataset(data, format="arrow"))
        view = f"CREATE VIEW {_quoted(sql_rules.TABLE)} AS SELECT"
        try:
            con.execute(f"{view} {_typed(con, types)} FROM {_DATA}")
        except duckdb.Error:  # a type that does not cast back: the rule sees Arrow's reading of it
            con.execute(f"{view} * FROM {_DATA}")
        con.execute("SET enable_external_access = false")
        con.execute("SET lock_configuration = true")
    except BaseException:
        con.close()
        raise
    return con


def _typed(con: duckdb.DuckDBPyConnection, types: dict[str, str]) -> str:
    """The columns with the validated table's types: Arrow has no UUID, HUGEINT, ENUM or JSON."""
    have = {r[0]: r[1] for r in con.execute(f"DESCRIBE {_DATA}").fetchall()}
    columns = []
    for name, arrow_type in have.items():
        want = types.get(name, arrow_type)
        # BLOB is DuckDB's reading of Arrow bytes (a BIT, say): a cast would reinterpret, not restore.
        same = want == arrow_type or arrow_type == "BLOB"
        columns.append(_quoted(name) if same else f"CAST({_quoted(name)} AS {want}) AS {_quoted(name)}")
    return ", ".join(columns) or "*"


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def run(query: str, data: Path, types: dict[str, str], timeout: float) -> Any:
    """The first value ``query`` returns (None: no row), read in a sandbox that sees only ``data``."""
    check(query)
    try:
        con = connect(data, types)
    except duckdb.Error as exc:
        raise SandboxError(f"the rule's sandbox could not be prepared: {exc}") from exc
    stopped = threading.Event()

    def stop() -> None:
        stopped.set()
        con.interrupt()

    timer = threading.Timer(timeout, stop)
    timer.daemon = True
    timer.start()
    try:
        row = con.execute(query).fetchone()
        return row[0] if row else None
    except duckdb.PermissionException as exc:
        raise SandboxError(f"the rule tried to read or write a file it was not given: {_first_line(exc)}") from exc
    except duckdb.Error as exc:
        if stopped.is_set():
            raise SandboxError(f"the rule ran longer than {timeout:g}s and was stopped") from exc
        if "configuration has been locked" in str(exc):
            raise SandboxError(f"the rule tried to change the sandbox's settings: {_first_line(exc)}") from exc
        raise SandboxError(f"the query failed: {exc}") from exc
    finally:
        timer.cancel()
        timer.join()  # an interrupt under way finishes before the connection goes
        con.close()


def _first_line(exc: Exception) -> str:
    return str(exc).splitlines()[0]
