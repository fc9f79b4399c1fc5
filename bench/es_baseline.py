"""The baseline of benchmark 2: the same commands on the `eventsourcing` library (9.5.6) with its SQLite
persistence. Each command loads the aggregate from its stored events, calls a method, saves the new event with
the library's optimistic concurrency (the aggregate's version), as its documentation shows.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from uuid import UUID

from eventsourcing import sqlite as es_sqlite
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event


class EsResident(Aggregate):
    @event("Registered")
    def __init__(self, given_name: str, family_name: str, date_of_birth: str, postcode: str) -> None:
        self.given_name = given_name
        self.family_name = family_name
        self.date_of_birth = date_of_birth
        self.postcode = postcode
        self.contacts: list[str] = []

    @event("ContactRecorded")
    def record_contact(self, contact_id: str, channel: str, caller: dict[str, str], needs: list[str], urgency: str,
                       safeguarding: bool, summary: str, outcome: str) -> None:
        self.contacts.append(contact_id)


class EsResidents(Application[UUID]):
    def register(self, given_name: str, family_name: str, date_of_birth: str, postcode: str) -> UUID:
        resident = EsResident(given_name, family_name, date_of_birth, postcode)
        self.save(resident)
        return resident.id

    def record_contact(self, resident_id: UUID, **contact: Any) -> int:
        resident: EsResident = self.repository.get(resident_id)
        resident.record_contact(**contact)
        self.save(resident)
        return int(resident.version)


def open_app(db_file: Path, *, synchronous: str | None = None, cache: bool = False) -> EsResidents:
    """The application on SQLite in `db_file`. `synchronous="NORMAL"` drops the fsync per commit (the library's
    default is SQLite's FULL); `cache=True` turns on the library's aggregate cache without fast-forward."""
    env = {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(db_file), "SQLITE_LOCK_TIMEOUT": "30"}
    if cache:
        env |= {"AGGREGATE_CACHE_MAXSIZE": "50000", "AGGREGATE_CACHE_FASTFORWARD": "n"}
    if synchronous is None:
        return EsResidents(env=env)
    # The library has no setting for it: its datastore builds its pool from this module global, so hand it a
    # pool whose every connection sets the pragma, for as long as the application is built.
    mode = synchronous

    class Pool(es_sqlite.SQLiteConnectionPool):
        def _create_connection(self) -> es_sqlite.SQLiteConnection:
            connection = super()._create_connection()
            connection._sqlite_conn.execute(f"PRAGMA synchronous={mode}")
            return connection

    original = es_sqlite.SQLiteConnectionPool
    es_sqlite.SQLiteConnectionPool = Pool  # type: ignore[misc]
    try:
        return EsResidents(env=env)
    finally:
        es_sqlite.SQLiteConnectionPool = original  # type: ignore[misc]
