from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from pydantic import ValidationError

from citybrain.kernel import store
from citybrain.kernel.errors import StoreError
from citybrain.kernel.i18n import use_language
from citybrain.kernel.runtime import free_port
from citybrain.kernel.settings import Settings
from tests.helpers import fresh_schema


@pytest.fixture(autouse=True)
def english() -> Iterator[None]:
    """The errors these tests read, in English (the current language is zh-CN unless set;
    test_errors_are_in_the_current_language checks both)."""
    with use_language("en"):
        yield


def test_errors_are_in_the_current_language() -> None:
    closed = f"postgresql://postgres@127.0.0.1:{free_port()}/postgres"
    with (use_language("zh-CN"),
          pytest.raises(StoreError, match=r"(?s)^数据库不可达：.*；请检查 CITYBRAIN_DATABASE_URL$")):
        store.connect(closed, "citybrain")
    with pytest.raises(StoreError,
                       match=r"(?s)^cannot connect to the database: .*; check CITYBRAIN_DATABASE_URL$"):
        store.connect(closed, "citybrain")
    with use_language("zh-CN"), pytest.raises(StoreError, match="但数据库服务器没有 TimescaleDB 扩展"):
        store.choose("timescaledb", TS_NONE, "citybrain")


def test_migrate_is_idempotent_and_reports_mode(database_url: str, schema: str) -> None:
    again = store.migrate(database_url, schema)
    assert again.pending == []
    assert again.applied == [m.version for m in store.migrations()]
    # No TimescaleDB here: the plain PostgreSQL path is chosen and said so.
    assert again.mode == ("timescaledb" if again.timescale_available else "postgresql")


def test_event_tables_match_contracts(db: psycopg.Connection[Any]) -> None:
    from schemas.events import MODELS, TABLES

    for family, model in MODELS.items():
        rows = db.execute(
            "SELECT column_name FROM information_schema.columns"
            " WHERE table_schema = current_schema() AND table_name = %s ORDER BY ordinal_position",
            (TABLES[family],),
        ).fetchall()
        columns = [r[0] for r in rows]
        assert columns[: len(model.COLUMNS)] == list(model.COLUMNS), family
        assert columns[len(model.COLUMNS):] == ["received_at"], family


# --- the storage mode: chosen once per schema, kept, said why -----------------------------

TS_NONE = store.Timescale(available=None, installed=None, schema=None, preloaded=False)
TS_LISTED = store.Timescale(available="2.28.3", installed=None, schema=None, preloaded=False)
TS_PRELOADED = store.Timescale(available="2.28.3", installed=None, schema=None, preloaded=True)
TS_INSTALLED = store.Timescale(available="2.28.3", installed="2.28.3", schema="public", preloaded=True)


@pytest.mark.parametrize(("storage", "ts", "mode", "reason"), [
    ("auto", TS_INSTALLED, "timescaledb", "extension 2.28.3 in schema public"),
    ("timescaledb", TS_INSTALLED, "timescaledb", "extension 2.28.3 in schema public"),
    ("auto", TS_NONE, "postgresql", "CITYBRAIN_STORAGE=auto and the server has no timescaledb extension"),
    ("auto", TS_LISTED, "postgresql", "CITYBRAIN_STORAGE=auto and timescaledb is not preloaded"),
    ("postgresql", TS_INSTALLED, "postgresql", "CITYBRAIN_STORAGE=postgresql"),
    ("postgresql", TS_LISTED, "postgresql", "CITYBRAIN_STORAGE=postgresql"),
])
def test_the_first_migration_chooses_the_mode(storage: store.Storage, ts: store.Timescale, mode: str,
                                              reason: str) -> None:
    choice = store.choose(storage, ts, "citybrain")
    assert (choice.mode, choice.reason, choice.create_extension) == (mode, reason, False)
    # One warning, only where auto falls back from a TimescaleDB that could be used.
    assert (choice.warning is not None) == (storage == "auto" and ts is TS_LISTED)


def test_a_preloaded_extension_is_created_and_an_unpreloaded_one_never() -> None:
    assert store.choose("auto", TS_PRELOADED, "citybrain").create_extension
    assert store.choose("timescaledb", TS_PRELOADED, "citybrain").create_extension
    warning = store.choose("auto", TS_LISTED, "citybrain").warning or ""
    assert "shared_preload_libraries = 'timescaledb'" in warning and "restart" in warning
    assert "CITYBRAIN_STORAGE=postgresql" in warning and "schema citybrain" in warning


@pytest.mark.parametrize(("ts", "says"), [(TS_LISTED, "without being preloaded"),
                                          (TS_NONE, "has no TimescaleDB extension")])
def test_storage_timescaledb_refuses_to_fall_back(ts: store.Timescale, says: str) -> None:
    with pytest.raises(StoreError, match=says) as caught:
        store.choose("timescaledb", ts, "citybrain")
    assert "shared_preload_libraries = 'timescaledb'" in str(caught.value)


def test_the_setting_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().storage == "auto"
    monkeypatch.setenv("CITYBRAIN_STORAGE", "postgresql")
    assert Settings().storage == "postgresql"
    monkeypatch.setenv("CITYBRAIN_STORAGE", "timescale")
    with pytest.raises(ValidationError, match="storage"):
        Settings()


def _server(database_url: str) -> store.Timescale:
    with store.connect(database_url, "public", autocommit=True) as conn:
        return store.probe_timescale(conn)


def test_a_migrated_schema_keeps_its_mode_and_says_why(database_url: str) -> None:
    with fresh_schema(database_url) as name:
        before = store.status(database_url, name)
        assert before.mode in ("timescaledb", "postgresql") and before.pending == []
        with store.connect(database_url, name, autocommit=True) as db:
            assert db.execute("SELECT mode, reason FROM storage_mode").fetchall() == [
                (before.mode, before.mode_reason)]
        other = "timescaledb" if before.mode == "postgresql" else "postgresql"
        with pytest.raises(StoreError, match=f"was migrated for {before.mode}.*CITYBRAIN_STORAGE={other}"):
            store.migrate(database_url, name, storage=other)  # type: ignore[arg-type]
        kept = store.migrate(database_url, name, storage=before.mode)  # type: ignore[arg-type]
        assert (kept.mode, kept.mode_reason) == (before.mode, before.mode_reason)


def test_a_schema_migrated_before_the_mode_was_kept_reads_it_from_its_migrations(database_url: str) -> None:
    with fresh_schema(database_url) as name:
        with store.connect(database_url, name, autocommit=True) as db:
            db.execute("DROP TABLE storage_mode")
            mode = db.execute("SELECT DISTINCT mode FROM schema_migrations").fetchall()
        st = store.migrate(database_url, name)
        assert [(st.mode,)] == mode and "as recorded with its migrations" in st.mode_reason
        assert store.status(database_url, name).mode_reason == st.mode_reason


def test_status_before_the_first_migration_says_what_migrate_would_choose(database_url: str) -> None:
    name = f"t_{uuid.uuid4().hex[:12]}"
    st = store.status(database_url, name, storage="postgresql")
    assert (st.mode, st.applied) == ("postgresql", [])
    assert st.mode_reason == "not migrated yet; db migrate would choose it: CITYBRAIN_STORAGE=postgresql"


def test_storage_timescaledb_without_timescaledb_fails_and_creates_nothing(database_url: str) -> None:
    if _server(database_url).preloaded:
        pytest.skip("this database server runs TimescaleDB: nothing to refuse")
    name = f"t_{uuid.uuid4().hex[:12]}"
    try:
        with pytest.raises(StoreError, match="CITYBRAIN_STORAGE=timescaledb, but"):
            store.migrate(database_url, name, storage="timescaledb")
        with store.connect(database_url, "public", autocommit=True) as db:
            assert db.execute("SELECT to_regnamespace(%s)", (name,)).fetchone() == (None,)
        assert store.status(database_url, name, storage="timescaledb").mode == "none"
    finally:
        store.drop_schema(database_url, name)


# --- a server that lists TimescaleDB without preloading it --------------------------------


@pytest.fixture
def unpreloaded_url(database_url: str) -> str:
    """A server that lists TimescaleDB but does not preload it (CREATE EXTENSION there ends
    the session with FATAL: extension "timescaledb" must be preloaded)."""
    url = os.environ.get("CITYBRAIN_TEST_UNPRELOADED_URL") or database_url
    ts = _server(url)
    if not ts.available or ts.preloaded:
        pytest.skip("no server that lists TimescaleDB without preloading it: set"
                    " CITYBRAIN_TEST_UNPRELOADED_URL=postgresql://USER@HOST:PORT/DB (e.g. Debian's"
                    " postgresql-NN-timescaledb package before timescaledb-tune) to run this test")
    return url


def test_auto_falls_back_to_postgresql_with_one_warning(unpreloaded_url: str,
                                                        caplog: pytest.LogCaptureFixture) -> None:
    name = f"t_{uuid.uuid4().hex[:12]}"
    try:
        with caplog.at_level(logging.WARNING, logger="citybrain.kernel.store"):
            st = store.migrate(unpreloaded_url, name)
            assert (st.mode, st.mode_reason) == (
                "postgresql", "CITYBRAIN_STORAGE=auto and timescaledb is not preloaded")
            # Every later start (a worker, the API) keeps the mode and never tries
            # CREATE EXTENSION, which would end its session.
            store.migrate(unpreloaded_url, name)
            store.migrate(unpreloaded_url, name, storage="postgresql")
        warnings = [r.getMessage() for r in caplog.records if r.name == "citybrain.kernel.store"]
        assert len(warnings) == 1 and "shared_preload_libraries = 'timescaledb'" in warnings[0]
        assert store.status(unpreloaded_url, name).timescale.endswith("available, not preloaded")
        with pytest.raises(StoreError, match="CITYBRAIN_STORAGE=timescaledb"):
            store.migrate(unpreloaded_url, name, storage="timescaledb")
    finally:
        store.drop_schema(unpreloaded_url, name)


def test_timescaledb_mode_fails_naming_the_fix(unpreloaded_url: str) -> None:
    name = f"t_{uuid.uuid4().hex[:12]}"
    try:
        with pytest.raises(StoreError, match="without being preloaded: add shared_preload_libraries"):
            store.migrate(unpreloaded_url, name, storage="timescaledb")
    finally:
        store.drop_schema(unpreloaded_url, name)


def test_a_schema_migrated_earlier_starts_without_create_extension(unpreloaded_url: str) -> None:
    """A database migrated before TimescaleDB was installed on its server (its migration
    rows say postgresql): the worker's migrate at start must not try the extension."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    try:
        store.migrate(unpreloaded_url, name, storage="postgresql")
        with store.connect(unpreloaded_url, name, autocommit=True) as db:
            db.execute("DROP TABLE storage_mode")
        st = store.migrate(unpreloaded_url, name)
        assert st.mode == "postgresql" and st.pending == []
    finally:
        store.drop_schema(unpreloaded_url, name)
