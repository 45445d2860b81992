"""The control plane's state in a real database through SQLAlchemy: identities, access requests,
publications, vended credentials and the audit log.

``MESH_SERVICE_DB`` is any SQLAlchemy URL (``postgresql+psycopg2://…`` in production); the default is
a SQLite file under the service's own state folder. Tables are created on first use.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from functools import cache

from sqlalchemy import JSON, Boolean, DateTime, Float, Integer, String, Text, create_engine
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

from meshwork.core import settings


def now() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    type_annotation_map = {datetime: DateTime(timezone=True), dict: JSON, list: JSON}


class Identity(Base):
    """A domain's runs or a person. Only a hash of the token's secret is kept."""

    __tablename__ = "identities"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # "domain" | "person"
    teams: Mapped[list] = mapped_column(default=list)  # a person's teams; a domain's own name
    roles: Mapped[list] = mapped_column(default=list)  # e.g. "pii-approver"
    secret_sha256: Mapped[str] = mapped_column(String(64))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    storage_user: Mapped[str | None] = mapped_column(String(64), nullable=True)
    storage_key_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    issued_at: Mapped[datetime] = mapped_column(default=now)
    rotated_at: Mapped[datetime | None] = mapped_column(nullable=True)


class Request(Base):
    __tablename__ = "access_requests"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    consumer: Mapped[str] = mapped_column(String(200), index=True)
    port: Mapped[str] = mapped_column(String(200), index=True)
    reason: Mapped[str] = mapped_column(Text)
    pii: Mapped[bool] = mapped_column(Boolean, default=False)
    expires: Mapped[str | None] = mapped_column(String(10), nullable=True)
    status: Mapped[str] = mapped_column(String(16))
    requested_by: Mapped[str] = mapped_column(String(200))
    requested_at: Mapped[datetime] = mapped_column(default=now)
    decided_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(nullable=True)


class Publication(Base):
    """A snapshot the service committed: the files it vends are the ones recorded here."""

    __tablename__ = "publications"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    port: Mapped[str] = mapped_column(String(200), index=True)
    snapshot_id: Mapped[str] = mapped_column(String(100))
    clear_files: Mapped[list] = mapped_column()
    masked_files: Mapped[list | None] = mapped_column(nullable=True)
    manifest: Mapped[dict] = mapped_column()  # as committed: a read needs no trip to the store
    committed_by: Mapped[str] = mapped_column(String(200))
    committed_at: Mapped[datetime] = mapped_column(default=now)


class Vend(Base):
    """Short-lived storage credentials handed to one run for one snapshot; deleted at expiry or revocation."""

    __tablename__ = "vends"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    consumer: Mapped[str] = mapped_column(String(200), index=True)
    port: Mapped[str] = mapped_column(String(200), index=True)
    snapshot_id: Mapped[str] = mapped_column(String(100))
    storage_user: Mapped[str | None] = mapped_column(String(64), nullable=True)
    expires_at: Mapped[float] = mapped_column(Float, index=True)  # epoch seconds: compared in SQL on any backend
    ended: Mapped[bool] = mapped_column(Boolean, default=False, index=True)


class AuditRow(Base):
    """The append-only audit log: only the service writes it; each row chains the previous one."""

    __tablename__ = "audit"
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    entry: Mapped[dict] = mapped_column()


class AuditHead(Base):
    """Signed checkpoints of the audit chain; the newest one is the head ``mesh audit verify`` trusts."""

    __tablename__ = "audit_checkpoints"
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    checkpoint: Mapped[dict] = mapped_column()


def database_url() -> str:
    url = settings.service_db_url()
    # A plain postgresql:// URL means the driver the project ships (psycopg2), not SQLAlchemy's default.
    for plain in ("postgresql://", "postgres://"):
        if url.startswith(plain):
            return "postgresql+psycopg2://" + url[len(plain) :]
    return url


@cache
def _engine(url: str) -> Engine:
    if url.startswith("sqlite:///"):
        settings.service_dir().mkdir(parents=True, exist_ok=True, mode=0o700)
        engine = create_engine(url, connect_args={"timeout": 30})
        with engine.connect() as con:  # WAL persists in the file: readers stop blocking the one writer
            con.exec_driver_sql("PRAGMA journal_mode=WAL")
    else:
        engine = create_engine(url, pool_pre_ping=True)
    Base.metadata.create_all(engine)
    return engine


_creating = threading.Lock()


def engine() -> Engine:
    with _creating:  # the first callers may race: one engine, one create_all
        return _engine(database_url())


def session() -> Session:
    return sessionmaker(engine(), expire_on_commit=False)()
