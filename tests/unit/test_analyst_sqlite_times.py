"""The analyst SQLite export has SQLite write its times (`sqlite_time`): they must be the very text that
SQLAlchemy's DateTime writes and reads back, which `sqlite_cells` makes in Python."""

from __future__ import annotations

import sqlite3

import pytest

from projections.analyst.writers import sqlite_cells, sqlite_time

MOMENTS = [None, 0, 1, -1, 999_999, 1_000_000, -999_999, -1_000_000, -1_000_001, 1_764_460_800_000_000,
           1_764_547_199_999_999, -2_208_988_800_000_001, -62_135_596_800_000_000, 253_402_300_799_999_999]


@pytest.mark.parametrize("micros", MOMENTS)
def test_sqlite_writes_the_time_text_that_python_would(micros: int | None) -> None:
    db = sqlite3.connect(":memory:")
    made_by_sqlite = db.execute(f"SELECT {sqlite_time('?1')}", (micros,)).fetchone()[0]
    (made_by_python,) = sqlite_cells("residents", [("r", None, None, None, micros)])[0][4:]
    assert made_by_sqlite == made_by_python
