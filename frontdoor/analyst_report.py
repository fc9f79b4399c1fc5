"""`frontdoor report`: one self-contained HTML page from a replay (Parquet folder or database URL).

Each figure is drawn by matplotlib as inline SVG (nothing is fetched: no scripts, fonts drawn as paths) and
shown with the DuckDB query that produced its numbers. Small numbers are suppressed as the NHS does: any count
under 5 is shown as "<5" in the tables and not drawn in the plots, so no bar gives away a count of 1 to 4.
"""

from __future__ import annotations

import asyncio
import html
import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import duckdb
import matplotlib

matplotlib.use("svg")
import matplotlib.pyplot as plt

from projections.analyst.schema import TABLES
from projections.analyst.writers import arrow_table

SMALL = 5
plt.rcParams.update({"svg.hashsalt": "frontdoor", "svg.fonttype": "path", "font.size": 9,
                     "axes.spines.top": False, "axes.spines.right": False})

DUPLICATION_BY_CLUSTER = """\
SELECT coalesce(r.cluster, 'unknown') AS cluster, f.rule, count(*) AS flags
FROM flags f LEFT JOIN residents r ON r.resident = f.resident
GROUP BY ALL ORDER BY cluster, rule"""
DUPLICATION_BY_MONTH = """\
SELECT strftime(raised_at, '%Y-%m') AS month, rule, count(*) AS flags
FROM flags GROUP BY ALL ORDER BY month, rule"""
DUPLICATION = """\
SELECT coalesce(r.cluster, 'unknown') AS cluster, f.rule, strftime(f.raised_at, '%Y-%m') AS month,
       count(*) AS flags
FROM flags f LEFT JOIN residents r ON r.resident = f.resident
GROUP BY ALL ORDER BY cluster, month, rule"""
WAITING = """\
SELECT first_team AS team, count(*) AS referrals,
       quantile_cont(waiting_days_to_acceptance, 0.25) AS p25,
       median(waiting_days_to_acceptance) AS median,
       quantile_cont(waiting_days_to_acceptance, 0.75) AS p75,
       quantile_cont(waiting_days_to_acceptance, 0.9) AS p90,
       list(waiting_days_to_acceptance ORDER BY waiting_days_to_acceptance) AS days
FROM referrals WHERE waiting_days_to_acceptance IS NOT NULL
GROUP BY team ORDER BY median DESC, team"""
HANDOFFS = """\
SELECT team AS from_team, to_team, count(*) AS handoffs
FROM referral_steps WHERE step = 'handed_off'
GROUP BY ALL ORDER BY handoffs DESC, from_team, to_team LIMIT 20"""
REPEATS = """\
WITH per_person AS (
  SELECT resident, need, count(*) AS contacts FROM contact_needs GROUP BY ALL)
SELECT need, count(*) FILTER (WHERE contacts >= 3) AS residents_calling_3_or_more_times,
       sum(contacts) FILTER (WHERE contacts >= 3) AS their_contacts
FROM per_person GROUP BY need ORDER BY residents_calling_3_or_more_times DESC, need"""
AT_RISK = """\
SELECT coalesce(cluster, 'unknown') AS cluster,
       count(*) FILTER (WHERE score >= 12) AS high,
       count(*) FILTER (WHERE score BETWEEN 6 AND 11) AS medium,
       count(*) FILTER (WHERE score < 6) AS low
FROM people_at_risk GROUP BY ALL ORDER BY cluster"""


def connect(source: str) -> duckdb.DuckDBPyConnection:
    """DuckDB over the replay: Parquet files as they are, or the tables of a database read into Arrow."""
    db = duckdb.connect()
    folder = Path(source)
    if "://" not in source:
        if not folder.is_dir():
            raise ValueError("not a folder of Parquet files nor a database URL")
        for name in TABLES:
            path = folder / f"{name}.parquet"
            if not path.exists():
                raise ValueError(f"{path} is missing: run frontdoor replay --parquet {source}")
            db.execute(f"CREATE VIEW {name} AS SELECT * FROM read_parquet('{_quoted(path)}')")
        return db
    for name, rows in asyncio.run(_sql_rows(source)).items():
        db.register(name, arrow_table(name, rows))
    return db


def _quoted(path: Path) -> str:
    return str(path.resolve()).replace("'", "''")


async def _sql_rows(url: str) -> dict[str, list[tuple[Any, ...]]]:
    from datetime import UTC

    from sqlalchemy import select

    from projections.analyst.schema import sql_tables
    from projections.database import create_engine

    _, tables = sql_tables()
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            out = {}
            for name, table in tables.items():
                times = [i for i, (_, kind) in enumerate(TABLES[name]) if kind == "time"]
                rows = (await conn.execute(select(table))).all()
                out[name] = [tuple(v.replace(tzinfo=UTC) if i in times and v is not None else v
                                   for i, v in enumerate(row)) for row in rows]
            return out
    finally:
        await engine.dispose()


def build_report(source: str) -> str:
    db = connect(source)
    sections = [_duplication(db), _waiting(db), _handoffs(db), _repeats(db), _at_risk(db)]
    totals = {name: db.execute(f"SELECT count(*) FROM {name}").fetchone() for name in
              ("residents", "contacts", "referrals", "flags")}
    summary = ", ".join(f"{_count((v or (0,))[0])} {k}" for k, v in totals.items())
    return PAGE.format(summary=html.escape(summary), sections="\n".join(sections))


def _count(n: int | None) -> str:
    return "<5" if n is None or n < SMALL else f"{n:,}"


def _shown(n: int | None) -> int:
    return 0 if n is None or n < SMALL else n


def _svg(fig: Any) -> str:
    out = io.StringIO()
    fig.savefig(out, format="svg", bbox_inches="tight", metadata={"Date": None, "Creator": None})
    plt.close(fig)
    text = out.getvalue()
    return text[text.index("<svg"):]


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _section(title: str, what: str, svg: str, table: str, query: str) -> str:
    return (f"<section><h2>{html.escape(title)}</h2><p>{html.escape(what)}</p><figure>{svg}</figure>"
            f"<details{' open' if table.count('<tr>') <= 16 else ''}><summary>Numbers</summary>{table}</details>"
            f"<p class=q>The queries (DuckDB):</p><pre>{html.escape(query)}</pre></section>")


def _stacked(ax: Any, groups: list[str], rules: list[str], counts: dict[tuple[str, str], int]) -> None:
    bottom = [0] * len(groups)
    for rule in rules:
        values = [_shown(counts.get((g, rule), 0)) for g in groups]
        ax.bar(range(len(groups)), values, bottom=bottom, label=rule)
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    ax.set_xticks(range(len(groups)), groups, rotation=45, ha="right")


def _duplication(db: duckdb.DuckDBPyConnection) -> str:
    by_cluster = db.execute(DUPLICATION_BY_CLUSTER).fetchall()
    by_month = db.execute(DUPLICATION_BY_MONTH).fetchall()
    rows = db.execute(DUPLICATION).fetchall()
    rules = sorted({r[1] for r in by_cluster})
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.2))
    _stacked(left, sorted({r[0] for r in by_cluster}), rules, {(c, r): n for c, r, n in by_cluster})
    left.set_title("per cluster, per rule")
    left.set_ylabel("flags raised")
    _stacked(right, sorted({r[0] for r in by_month}), rules, {(m, r): n for m, r, n in by_month})
    right.set_title("per month, per rule")
    if rules:
        right.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1, 1))
    table = _table(("cluster", "rule", "month", "flags"), [(c, r, m, _count(n)) for c, r, m, n in rows])
    return _section("Duplicated work per rule, cluster and month",
                    "Flags raised by the duplicate-work detector, by cluster and by the month they were raised "
                    "(the full breakdown per rule, cluster and month is in the numbers).",
                    _svg(fig), table, "\n\n".join((DUPLICATION_BY_CLUSTER, DUPLICATION_BY_MONTH, DUPLICATION)))


def _waiting(db: duckdb.DuckDBPyConnection) -> str:
    rows = db.execute(WAITING).fetchall()
    shown = [r for r in rows if r[1] >= SMALL]
    fig, ax = plt.subplots(figsize=(11, 0.28 * max(len(shown), 4) + 1))
    if shown:
        ax.boxplot([r[6] for r in shown], vert=False, tick_labels=[r[0] for r in shown], showfliers=True,
                   flierprops={"markersize": 2})
    ax.set_xlabel("days from referral to acceptance")
    table = _table(("team", "referrals accepted", "25%", "median", "75%", "90%"),
                   [(r[0], _count(r[1]), *(f"{v:.1f}" if r[1] >= SMALL else "-" for v in r[2:6])) for r in rows])
    return _section("Waiting days by team", "How long referrals waited to be accepted by the team first referred to "
                    "(box: middle half, line: median, whiskers: 1.5 IQR, dots: beyond). Teams with fewer than 5 "
                    "accepted referrals are not drawn.", _svg(fig), table, WAITING)


def _handoffs(db: duckdb.DuckDBPyConnection) -> str:
    rows = db.execute(HANDOFFS).fetchall()
    shown = [r for r in rows if r[2] >= SMALL]
    fig, ax = plt.subplots(figsize=(9, 0.3 * max(len(shown), 3) + 1))
    ax.barh([f"{a} → {b}" for a, b, _ in shown][::-1], [n for _, _, n in shown][::-1], color="#8c6bb1")
    ax.set_xlabel("referrals handed off")
    table = _table(("from team", "to team", "handoffs"), [(a, b, _count(n)) for a, b, n in rows])
    return _section("Handoff paths between teams", "The most frequent handoffs of a referral from one team to "
                    "another (paths with fewer than 5 are listed as <5 and not drawn).", _svg(fig), table, HANDOFFS)


def _repeats(db: duckdb.DuckDBPyConnection) -> str:
    rows = db.execute(REPEATS).fetchall()
    fig, ax = plt.subplots(figsize=(9, 3))
    ax.barh([r[0] for r in rows][::-1], [_shown(r[1]) for r in rows][::-1], color="#e6550d")
    ax.set_xlabel("residents with 3 or more contacts about the need")
    table = _table(("need", "residents calling 3+ times", "their contacts"),
                   [(r[0], _count(r[1]), _count(r[2])) for r in rows])
    return _section("Repeat contacts by need", "Residents who called three or more times about the same need "
                    "(failure demand).", _svg(fig), table, REPEATS)


def _at_risk(db: duckdb.DuckDBPyConnection) -> str:
    rows = db.execute(AT_RISK).fetchall()
    fig, ax = plt.subplots(figsize=(9, 3))
    clusters = [r[0] for r in rows]
    left = [0] * len(rows)
    for index, (band, colour) in enumerate((("high", "#b2182b"), ("medium", "#ef8a62"), ("low", "#fddbc7"))):
        values = [_shown(r[1 + index]) for r in rows]
        ax.barh(clusters, values, left=left, label=band, color=colour)
        left = [a + b for a, b in zip(left, values, strict=True)]
    ax.legend(fontsize=8)
    ax.set_xlabel("residents with a risk score above 0")
    table = _table(("cluster", "high (12+)", "medium (6-11)", "low (1-5)"),
                   [(r[0], *(_count(v) for v in r[1:])) for r in rows])
    return _section("People at risk per cluster", "Residents by risk score band (falls and safeguarding contacts, "
                    "repeated calls about one need, long waits, handoffs, no coordinator, open duplicate-work "
                    "flags).", _svg(fig), table, AT_RISK)


PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>frontdoor: analyst report</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1150px; color: #222; }}
section {{ border-top: 1px solid #ccc; padding-top: 1em; margin-top: 1.5em; }}
figure {{ margin: 0; overflow-x: auto; }} figure svg {{ max-width: 100%; height: auto; }}
table {{ border-collapse: collapse; font-size: 0.85em; margin: 0.5em 0; }}
td, th {{ border: 1px solid #ddd; padding: 2px 8px; text-align: left; }}
pre {{ background: #f6f6f6; padding: 0.7em; font-size: 0.85em; overflow-x: auto; }}
.q {{ margin-bottom: 0; font-size: 0.85em; color: #555; }}
</style></head><body>
<h1>Front door: where work is duplicated, who waits, who is passed on</h1>
<p>From a pseudonymised replay: {summary}. Counts under 5 are shown as "&lt;5" and not drawn.</p>
{sections}
</body></html>
"""
