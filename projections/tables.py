"""Every read-model table. Disposable: each can be dropped and rebuilt from the stream, row for row."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Date, Index, Integer, MetaData, String, Table, Text

metadata = MetaData()

checkpoints = Table(
    "projection_checkpoints",
    metadata,
    Column("projection", String(64), primary_key=True),
    Column("seq", BigInteger, nullable=False),
)

dead_letters = Table(
    "projection_dead_letters",
    metadata,
    Column("projection", String(64), primary_key=True),
    Column("seq", BigInteger, primary_key=True),
    Column("event_type", String(64), nullable=False),
    Column("reason", Text, nullable=False),
)

# The search table: one row per resident, the columns a call handler searches by.
residents = Table(
    "residents",
    metadata,
    Column("resident_id", String(36), primary_key=True),
    Column("nhs_number", String(10), index=True),
    Column("given_name", String(100), nullable=False),
    Column("family_name", String(100), nullable=False),
    Column("search_name", String(201), nullable=False),  # lower-case "given family", for prefix search
    Column("date_of_birth", Date, nullable=False, index=True),
    Column("postcode", String(16), nullable=False),
    Column("postcode_key", String(16), nullable=False, index=True),  # upper, no spaces
    Column("gp_practice", String(200)),
    Column("cluster", String(200)),
    Column("version", BigInteger, nullable=False),
)
Index("ix_residents_family", residents.c.family_name)
Index("ix_residents_search_name", residents.c.search_name)

# The joined-up view, one JSON document per resident: one primary-key read answers GET /residents/{id}.
resident_views = Table(
    "resident_views",
    metadata,
    Column("resident_id", String(36), primary_key=True),
    Column("doc", Text, nullable=False),
    Column("version", BigInteger, nullable=False),
)

# Caseloads: every referral where it is now, and every assessment.
referrals = Table(
    "referrals",
    metadata,
    Column("referral_id", String(64), primary_key=True),
    Column("resident_id", String(36), nullable=False, index=True),
    Column("to_team", String(64), nullable=False),
    Column("from_team", String(64)),
    Column("need", String(40), nullable=False),
    Column("urgency", String(10), nullable=False),
    Column("status", String(12), nullable=False),
    Column("made_at", String(40), nullable=False),
    Column("waiting_since", String(40), nullable=False),  # when it reached its current team
    Column("updated_at", String(40), nullable=False),
    Column("handoffs", Integer, nullable=False),
)
Index("ix_referrals_team_status", referrals.c.to_team, referrals.c.status)

assessments = Table(
    "assessments",
    metadata,
    Column("assessment_id", String(64), primary_key=True),
    Column("resident_id", String(36), nullable=False, index=True),
    Column("team", String(64), nullable=False),
    Column("kind", String(20), nullable=False),
    Column("status", String(12), nullable=False),
    Column("started_at", String(40), nullable=False),
    Column("completed_at", String(40)),
)
Index("ix_assessments_team_status", assessments.c.team, assessments.c.status)

# The duplicate-work detector's own memory: its copy of each resident's view, and people for matching.
detector_views = Table(
    "detector_views",
    metadata,
    Column("resident_id", String(36), primary_key=True),
    Column("doc", Text, nullable=False),
)

detector_people = Table(
    "detector_people",
    metadata,
    Column("resident_id", String(36), primary_key=True),
    Column("given_name", String(100), nullable=False),
    Column("family_name", String(100), nullable=False),
    Column("date_of_birth", Date, nullable=False),
    Column("postcode", String(16), nullable=False),
    Column("nhs_number", String(10)),
)

detector_blocks = Table(
    "detector_blocks",
    metadata,
    Column("block_key", String(80), primary_key=True),
    Column("resident_id", String(36), primary_key=True),
)

# Duplicated work, as flagged and resolved: what GET /flags lists.
flags = Table(
    "flags",
    metadata,
    Column("flag_id", String(36), primary_key=True),
    Column("resident_id", String(36), nullable=False, index=True),
    Column("rule", String(40), nullable=False),
    Column("severity", String(10), nullable=False),
    Column("refs", Text, nullable=False),  # JSON list of referral/assessment/contact/resident ids
    Column("explanation", Text, nullable=False),
    Column("status", String(10), nullable=False),
    Column("raised_at", String(40), nullable=False),
    Column("raised_seq", BigInteger, nullable=False),
    Column("resolution", String(30)),
    Column("resolved_by", String(200)),
    Column("resolved_at", String(40)),
)
Index("ix_flags_status_rule", flags.c.status, flags.c.rule)

# The team feed router's memory: which teams each resident involves, and the consent in force.
router_residents = Table(
    "team_router_residents",
    metadata,
    Column("resident_id", String(36), primary_key=True),
    Column("teams", Text, nullable=False),  # JSON list
    Column("consent", Text),  # JSON object, or null when none was recorded
)

# Who viewed which record, when and why: from the AUDIT stream, for GET /residents/{id}/audit.
audit_log = Table(
    "audit_log",
    metadata,
    Column("seq", BigInteger, primary_key=True),  # the AUDIT stream's sequence
    Column("resident_id", String(36), index=True),
    Column("viewer", String(200), nullable=False),
    Column("role", String(20), nullable=False),
    Column("team_id", String(64)),
    Column("what", String(200), nullable=False),
    Column("purpose", String(200)),
    Column("at", String(40), nullable=False),
)
