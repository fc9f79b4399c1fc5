"""Reads of the read models, for the API. Plain SELECTs on the tables this package owns."""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass
from datetime import date
from typing import Any

import orjson
from sqlalchemy import ColumnElement, and_, case, or_, select, tuple_
from sqlalchemy.ext.asyncio import AsyncConnection

from projections.checkpoints import load_checkpoint
from projections.people_matching import Person, district, score, swapped, year_transposed
from projections.resident_view_projection import postcode_key
from projections.tables import assessments, audit_log, flags, referrals, resident_views, residents

Key = tuple[Any, ...]

_NHS = re.compile(r"^\d{10}$")
_POSTCODE = re.compile(r"^[A-Z]{1,2}\d[A-Z\d]?(\d[A-Z]{2})?$")
_DATE_FORMATS = (re.compile(r"^(\d{4})-(\d{2})-(\d{2})$"), re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$"))


async def view_of(conn: AsyncConnection, resident_id: str) -> dict[str, Any] | None:
    doc = await conn.scalar(select(resident_views.c.doc).where(resident_views.c.resident_id == resident_id))
    if doc is None:
        return None
    view: dict[str, Any] = orjson.loads(doc)
    return view if view.get("details") else None


async def views_of(conn: AsyncConnection, resident_ids: list[str]) -> list[dict[str, Any]]:
    if not resident_ids:
        return []
    rows = await conn.execute(select(resident_views.c.doc).where(resident_views.c.resident_id.in_(resident_ids)))
    return [orjson.loads(doc) for (doc,) in rows]


async def checkpoint(conn: AsyncConnection, projection: str) -> int:
    return await load_checkpoint(conn, projection)


@dataclass(frozen=True, slots=True)
class SearchTerms:
    nhs_number: str | None = None
    date_of_birth: date | None = None
    postcode: str | None = None
    names: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return not (self.nhs_number or self.date_of_birth or self.postcode or self.names)


def parse_query(q: str) -> SearchTerms:
    """One box for everything a caller might say: '943 476 5919', 'Smith 4/4/1944', 'SO14 7LY', 'ada lov'."""
    text = q.strip()
    digits = re.sub(r"[\s-]", "", text)
    if _NHS.match(digits):
        return SearchTerms(nhs_number=digits)
    postcode = text.replace(" ", "").upper()
    if _POSTCODE.match(postcode):
        return SearchTerms(postcode=postcode)
    dob: date | None = None
    names: list[str] = []
    for token in text.split():
        parsed = _parse_date(token)
        if parsed is not None:
            dob = parsed
        elif _POSTCODE.match(token.upper()) and any(ch.isdigit() for ch in token):
            return SearchTerms(postcode=token.upper(), date_of_birth=dob)
        else:
            names.append(token.lower())
    return SearchTerms(date_of_birth=dob, names=tuple(names))


def _parse_date(token: str) -> date | None:
    for pattern in _DATE_FORMATS:
        m = pattern.match(token)
        if m:
            a, b, c = (int(g) for g in m.groups())
            try:
                return date(a, b, c) if pattern is _DATE_FORMATS[0] else date(c, b, a)
            except ValueError:
                return None
    return None


SEARCH_ORDER = (residents.c.family_name, residents.c.given_name, residents.c.resident_id)


def search_key(row: dict[str, Any]) -> Key:
    return row["family_name"], row["given_name"], row["resident_id"]


async def search(conn: AsyncConnection, terms: SearchTerms, *, limit: int = 50,
                 only: list[str] | None = None, after: Key | None = None) -> list[dict[str, Any]]:
    """Residents matching `terms`, by name; `after`: the key (search_key) of the last row of the page before."""
    query = select(residents.c.resident_id, residents.c.nhs_number, residents.c.given_name, residents.c.family_name,
                   residents.c.date_of_birth, residents.c.postcode, residents.c.cluster)
    where = []
    if terms.nhs_number:
        where.append(residents.c.nhs_number == terms.nhs_number)
    if terms.date_of_birth:
        where.append(residents.c.date_of_birth == terms.date_of_birth)
    if terms.postcode:
        where.append(residents.c.postcode_key.startswith(postcode_key(terms.postcode)))
    for name in terms.names:
        # Each word must start the given or the family name: 'ada lov' finds Ada Lovelace.
        where.append(or_(residents.c.search_name.startswith(name), residents.c.search_name.contains(" " + name)))
    if only is not None:
        where.append(residents.c.resident_id.in_(only))
    if after is not None:
        where.append(tuple_(*SEARCH_ORDER) > tuple_(*after))
    rows = await conn.execute(query.where(and_(*where)).order_by(*SEARCH_ORDER).limit(limit))
    return [{**row._mapping, "date_of_birth": row.date_of_birth.isoformat()} for row in rows]


async def resident_of_referral(conn: AsyncConnection, referral_id: str) -> str | None:
    return await conn.scalar(select(referrals.c.resident_id).where(referrals.c.referral_id == referral_id))


async def resident_of_assessment(conn: AsyncConnection, assessment_id: str) -> str | None:
    return await conn.scalar(select(assessments.c.resident_id).where(assessments.c.assessment_id == assessment_id))


URGENCY_RANK = case({"urgent": 0, "soon": 1, "routine": 2}, value=referrals.c.urgency, else_=3)
# Each caseload order ends in the referral id, so the key of a row is unique and paging is exact.
CASELOAD_ORDERS: dict[str, tuple[ColumnElement[Any], ...]] = {
    "waiting": (referrals.c.waiting_since, referrals.c.referral_id),
    "urgency": (URGENCY_RANK, referrals.c.waiting_since, referrals.c.referral_id),
    "need": (referrals.c.need, referrals.c.waiting_since, referrals.c.referral_id),
    "made_at": (referrals.c.made_at, referrals.c.referral_id),
}
ASSESSMENT_ORDER = (assessments.c.started_at, assessments.c.assessment_id)
_NAMES = (residents.c.given_name, residents.c.family_name)
_RANKS = {"urgent": 0, "soon": 1, "routine": 2}


def referral_key(row: dict[str, Any], sort: str) -> Key:
    fields = {"waiting": ("waiting_since", "referral_id"), "urgency": ("waiting_since", "referral_id"),
              "need": ("need", "waiting_since", "referral_id"), "made_at": ("made_at", "referral_id")}[sort]
    rank = (_RANKS.get(row["urgency"], 3),) if sort == "urgency" else ()
    return rank + tuple(row[f] for f in fields)


def assessment_key(row: dict[str, Any]) -> Key:
    return row["started_at"], row["assessment_id"]


async def caseload(conn: AsyncConnection, team_id: str, *, sort: str = "waiting", limit: int | None = None,
                   after_referral: Key | None = None, after_assessment: Key | None = None,
                   referrals_done: bool = False, assessments_done: bool = False) -> dict[str, list[dict[str, Any]]]:
    """A team's open work: referrals waiting for it or accepted by it, and assessments in progress, each list in
    its own order from just after its `after` key, at most `limit` of each (and one more, to tell there are more).
    The resident's name comes along, so a caseload can be read without opening every record."""
    order = CASELOAD_ORDERS[sort]
    refs: list[dict[str, Any]] = []
    if not referrals_done:
        query = (select(referrals, *_NAMES).join(residents, residents.c.resident_id == referrals.c.resident_id,
                                                 isouter=True)
                 .where(referrals.c.to_team == team_id, referrals.c.status.in_(("made", "accepted"))))
        if after_referral is not None:
            query = query.where(tuple_(*order) > tuple_(*after_referral))
        query = query.order_by(*order)
        rows = await conn.execute(query if limit is None else query.limit(limit + 1))
        refs = [dict(r._mapping) for r in rows]
    asms: list[dict[str, Any]] = []
    if not assessments_done:
        query = (select(assessments, *_NAMES).join(residents, residents.c.resident_id == assessments.c.resident_id,
                                                   isouter=True)
                 .where(assessments.c.team == team_id, assessments.c.status == "started"))
        if after_assessment is not None:
            query = query.where(tuple_(*ASSESSMENT_ORDER) > tuple_(*after_assessment))
        query = query.order_by(*ASSESSMENT_ORDER)
        rows = await conn.execute(query if limit is None else query.limit(limit + 1))
        asms = [dict(a._mapping) for a in rows]
    return {"referrals": refs, "assessments": asms}


def _flag_row(row: Any) -> dict[str, Any]:
    item = dict(row._mapping)
    item["references"] = orjson.loads(item.pop("refs"))
    return item


FLAG_ORDER = (flags.c.raised_seq, flags.c.flag_id)  # newest first: both descending


def flag_key(row: dict[str, Any]) -> Key:
    return row["raised_seq"], row["flag_id"]


async def list_flags(conn: AsyncConnection, *, status: str | None, rule: str | None, cluster: str | None,
                     team: str | None, resident_id: str | None, limit: int,
                     after: Key | None = None) -> list[dict[str, Any]]:
    """Flags, newest first, from just after `after` (the flag_key of the last row of the page before). Keyed on
    the stream sequence that raised the flag: a flag raised while someone pages comes before their place."""
    query = select(flags, residents.c.cluster, *_NAMES).join(
        residents, residents.c.resident_id == flags.c.resident_id, isouter=True)
    if after is not None:
        query = query.where(tuple_(*FLAG_ORDER) < tuple_(*after))
    if status:
        query = query.where(flags.c.status == status)
    if rule:
        query = query.where(flags.c.rule == rule)
    if cluster:
        query = query.where(residents.c.cluster == cluster)
    if resident_id:
        query = query.where(flags.c.resident_id == resident_id)
    if team:
        involved = select(referrals.c.resident_id).where(referrals.c.to_team == team)
        query = query.where(flags.c.resident_id.in_(involved))
    rows = await conn.execute(query.order_by(flags.c.raised_seq.desc(), flags.c.flag_id.desc()).limit(limit))
    return [_flag_row(r) for r in rows]


async def flag(conn: AsyncConnection, flag_id: str) -> dict[str, Any] | None:
    row = (await conn.execute(select(flags).where(flags.c.flag_id == flag_id))).first()
    return _flag_row(row) if row else None


async def likely_matches(conn: AsyncConnection, person: Person, *, threshold: float,
                         limit: int = 5) -> list[dict[str, Any]]:
    """Existing residents who may be this person (the detector's blocking and score, on the search table)."""
    dobs = [person.date_of_birth] + ([other] if (other := swapped(person.date_of_birth)) else [])
    if (slipped := year_transposed(person.date_of_birth.year)) is not None:  # 1974 typed for 1947
        with contextlib.suppress(ValueError):  # 29 February
            dobs.append(person.date_of_birth.replace(year=slipped))
    year = person.date_of_birth.year
    nearby = and_(residents.c.postcode_key.startswith(district(person.postcode)),
                  residents.c.date_of_birth.between(date(year, 1, 1), date(year, 12, 31)))
    rows = await conn.execute(select(residents).where(or_(residents.c.date_of_birth.in_(dobs), nearby),
                                                      residents.c.resident_id != person.resident_id).limit(500))
    scored = []
    for row in rows:
        other_person = Person(row.resident_id, row.given_name, row.family_name, row.date_of_birth, row.postcode,
                              row.nhs_number)
        value = score(other_person, person)
        if value >= threshold:
            scored.append({"resident_id": row.resident_id, "given_name": row.given_name,
                           "family_name": row.family_name, "date_of_birth": row.date_of_birth.isoformat(),
                           "postcode": row.postcode, "nhs_number": row.nhs_number, "score": round(value, 3)})
    return sorted(scored, key=lambda m: -m["score"])[:limit]


async def audit_of(conn: AsyncConnection, resident_id: str, *, limit: int) -> list[dict[str, Any]]:
    rows = await conn.execute(select(audit_log).where(audit_log.c.resident_id == resident_id)
                              .order_by(audit_log.c.seq.desc()).limit(limit))
    return [dict(r._mapping) for r in rows]
