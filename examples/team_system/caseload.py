"""The team's own caseload, in a local SQLite file: the referrals addressed to the team and where each stands, and
which feed messages have been applied (by their sequence in the front door's CARE stream).

A message is applied and remembered in one transaction, and acknowledged only after that: a crash before the
acknowledgement gets the message again, and it is recognised and skipped. Nothing is missed, nothing is applied
twice."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS referrals (
    referral_id TEXT PRIMARY KEY, resident_id TEXT NOT NULL, need TEXT, urgency TEXT, reason TEXT,
    status TEXT NOT NULL, updated_seq INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS applied (source_seq INTEGER PRIMARY KEY, type TEXT NOT NULL);
"""
STATUS_AFTER = {"ReferralAccepted": "accepted", "ReferralDeclined": "declined", "ReferralCompleted": "completed",
                "ReferralWithdrawn": "withdrawn"}


class Caseload:
    def __init__(self, path: Path) -> None:
        self._db = sqlite3.connect(path, isolation_level=None)
        self._db.executescript(SCHEMA)

    def applied(self, source_seq: int) -> bool:
        return self._db.execute("SELECT 1 FROM applied WHERE source_seq = ?", (source_seq,)).fetchone() is not None

    def apply(self, source_seq: int, message: dict[str, Any], team_id: str) -> None:
        """One feed message (DESIGN §9, version 1), in one transaction with the note that it was applied."""
        data, kind = message["data"], message["type"]
        self._db.execute("BEGIN")
        try:
            if kind == "ReferralMade" and data["to_team"] == team_id:
                self._db.execute(
                    "INSERT OR REPLACE INTO referrals VALUES (?, ?, ?, ?, ?, 'made', ?)",
                    (data["referral_id"], message["resident_id"], data["need"], data["urgency"], data.get("reason"),
                     source_seq))
            elif kind == "ReferralHandedOff" and data["to_team"] == team_id:
                self._db.execute(
                    "INSERT OR REPLACE INTO referrals (referral_id, resident_id, reason, status, updated_seq) "
                    "VALUES (?, ?, ?, 'made', ?)", (data["referral_id"], message["resident_id"], data.get("reason"),
                                                    source_seq))
            elif kind == "ReferralHandedOff" and data["from_team"] == team_id:
                self._set_status(data["referral_id"], "handed_off", source_seq)
            elif kind in STATUS_AFTER and data.get("team") == team_id:
                self._set_status(data["referral_id"], STATUS_AFTER[kind], source_seq)
            self._db.execute("INSERT INTO applied VALUES (?, ?)", (source_seq, kind))
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def _set_status(self, referral_id: str, status: str, source_seq: int) -> None:
        self._db.execute("UPDATE referrals SET status = ?, updated_seq = ? WHERE referral_id = ?",
                         (status, source_seq, referral_id))

    def status(self, referral_id: str) -> str | None:
        row = self._db.execute("SELECT status FROM referrals WHERE referral_id = ?", (referral_id,)).fetchone()
        return None if row is None else str(row[0])

    def close(self) -> None:
        self._db.close()
