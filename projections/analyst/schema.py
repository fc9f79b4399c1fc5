"""The analyst tables: one list of columns per table, from which both the SQL tables and the Parquet schemas are
made, so the two outputs cannot drift apart. Times are UTC (naive in SQL, `timestamp[us, UTC]` in Parquet).

No column holds free text, a name, an NHS number, a birth date, a full postcode or a raw id: ids are keyed
pseudonyms (`Pseudonyms`), and every text column holds a word from a closed vocabulary or a team id.
"""

from __future__ import annotations

from typing import Any, Literal

import pyarrow as pa
from sqlalchemy import BigInteger, Boolean, Column, DateTime, Float, MetaData, String, Table
from sqlalchemy.types import TypeEngine

Kind = Literal["id", "text", "int", "float", "bool", "time"]
Columns = tuple[tuple[str, Kind], ...]

TABLES: dict[str, Columns] = {
    "residents": (("resident", "id"), ("age_band", "text"), ("cluster", "text"), ("postcode_district", "text"),
                  ("registered_at", "time")),
    "contacts": (("contact", "id"), ("resident", "id"), ("contacted_at", "time"), ("channel", "text"),
                 ("caller_relationship", "text"), ("needs", "text"), ("urgency", "text"), ("safeguarding", "bool"),
                 ("outcome", "text")),
    "contact_needs": (("contact", "id"), ("resident", "id"), ("need", "text"), ("contacted_at", "time")),
    "referrals": (("referral", "id"), ("resident", "id"), ("contact", "id"), ("from_team", "text"),
                  ("first_team", "text"), ("to_team", "text"), ("need", "text"), ("urgency", "text"),
                  ("status", "text"), ("made_at", "time"), ("accepted_at", "time"), ("completed_at", "time"),
                  ("closed_at", "time"), ("waiting_days_to_acceptance", "float"),
                  ("waiting_days_to_completion", "float"), ("handoffs", "int"), ("handed_off_from", "text"),
                  ("handed_off_to", "text")),
    "referral_steps": (("referral", "id"), ("resident", "id"), ("step_no", "int"), ("step", "text"),
                       ("at", "time"), ("team", "text"), ("to_team", "text"), ("days_since_made", "float")),
    "assessments": (("assessment", "id"), ("resident", "id"), ("team", "text"), ("kind", "text"),
                    ("started_at", "time"), ("completed_at", "time"), ("days_to_complete", "float")),
    "coordinator_changes": (("resident", "id"), ("at", "time"), ("team", "text"), ("worker", "id"),
                            ("replaces_worker", "id")),
    "consent_decisions": (("resident", "id"), ("at", "time"), ("decision", "text"), ("scope", "text"),
                          ("scope_size", "int")),
    "flags": (("flag", "id"), ("resident", "id"), ("rule", "text"), ("severity", "text"), ("raised_at", "time"),
              ("status", "text"), ("resolution", "text"), ("resolved_at", "time"), ("days_open", "float"),
              ("references_count", "int")),
    "flag_references": (("flag", "id"), ("reference", "id")),
    "links": (("resident", "id"), ("other_resident", "id"), ("linked_at", "time"), ("unlinked_at", "time")),
    "people_at_risk": (("resident", "id"), ("cluster", "text"), ("rank", "int"), ("score", "int"),
                       ("reasons", "text")),
}

_ARROW: dict[Kind, pa.DataType] = {"id": pa.string(), "text": pa.string(), "int": pa.int64(),
                                   "float": pa.float64(), "bool": pa.bool_(), "time": pa.timestamp("us", tz="UTC")}


def _sql_type(kind: Kind) -> TypeEngine[Any]:
    types: dict[Kind, TypeEngine[Any]] = {"id": String(32), "text": String(200), "int": BigInteger(), "float": Float(),
                                          "bool": Boolean(), "time": DateTime()}
    return types[kind]


def arrow_schema(name: str) -> pa.Schema:
    return pa.schema([pa.field(column, _ARROW[kind]) for column, kind in TABLES[name]])


def sql_tables() -> tuple[MetaData, dict[str, Table]]:
    """Fresh tables in their own metadata: the analyst database is not the read-model database."""
    metadata = MetaData()
    tables = {name: Table(name, metadata, *(Column(c, _sql_type(k)) for c, k in columns))
              for name, columns in TABLES.items()}
    return metadata, tables
