"""Opening the ledger database: URL rules, engine settings per backend, ``alembic upgrade head``.

SQLite (the default, a file in the working directory) runs in WAL mode with a busy timeout, and
every transaction is ``BEGIN IMMEDIATE`` so concurrent runs queue for the write lock instead of
failing half-way (https://www.sqlite.org/lang_transaction.html). PostgreSQL uses psycopg 3.
"""

from __future__ import annotations

from importlib import resources
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, event, make_url, pool
from sqlalchemy.engine import URL, Connection, Engine
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from cpoc_fhir.store.errors import StoreError

DEFAULT_URL = "sqlite:///cpoc-ledger.sqlite"
SQLITE_BUSY_TIMEOUT_S = 30.0
# Any constant: serialises concurrent `upgrade head` on one PostgreSQL database.
_PG_MIGRATION_LOCK = 0x43504F43


def parse_url(url: str) -> URL:
    """The SQLAlchemy URL, with ``postgres://`` and ``postgresql://`` mapped to psycopg 3."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise StoreError(f"run ledger: not a database URL: {url!r}") from None
    backend, _, driver = parsed.drivername.partition("+")
    if backend in ("postgres", "postgresql") and driver in ("", "psycopg"):
        return parsed.set(drivername="postgresql+psycopg")
    if backend == "sqlite" and driver in ("", "pysqlite"):
        return parsed
    raise StoreError(
        f"run ledger: unsupported database {parsed.drivername!r} "
        "(use sqlite:///FILE or postgresql+psycopg://…)"
    )


def describe(url: URL) -> str:
    """The URL for messages, password hidden."""
    return url.render_as_string(hide_password=True)


def make_engine(url: str) -> Engine:
    """An engine for ``url`` with the backend's settings (not yet migrated)."""
    parsed = parse_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(parsed)
    return create_engine(parsed, hide_parameters=True, pool_pre_ping=True)


def _sqlite_engine(url: URL) -> Engine:
    memory = url.database in (None, "", ":memory:")
    # The pool hands a connection to one thread at a time; it may close it from another.
    options: dict[str, Any] = {
        "connect_args": {"timeout": SQLITE_BUSY_TIMEOUT_S, "check_same_thread": False}
    }
    if memory:
        options["poolclass"] = pool.StaticPool
    engine = create_engine(url, hide_parameters=True, **options)

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event issue BEGIN (pysqlite would defer it past reads).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {int(SQLITE_BUSY_TIMEOUT_S * 1000)}")
        cursor.execute("PRAGMA foreign_keys = ON")
        if not memory:
            cursor.execute("PRAGMA journal_mode = WAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def alembic_config() -> Config:
    """The packaged Alembic configuration (independent of the current directory)."""
    package = resources.files("cpoc_fhir.store")
    config = Config(str(package / "alembic.ini"))
    config.set_main_option("script_location", str(package / "migrations"))
    return config


def migrate(engine: Engine) -> None:
    """``alembic upgrade head`` in one transaction: a no-op on an up-to-date database."""
    config = alembic_config()
    try:
        with engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_PG_MIGRATION_LOCK})")
            config.attributes["connection"] = conn
            command.upgrade(config, "head")
    except SQLAlchemyError as exc:
        raise StoreError(
            f"run ledger {describe(engine.url)}: cannot open or migrate: {reason(exc)}"
        ) from exc


def reason(exc: SQLAlchemyError) -> str:
    """The database's own message, without SQL text or parameters (they may name patients)."""
    orig = getattr(exc, "orig", None)
    text = str(orig if orig is not None else exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
