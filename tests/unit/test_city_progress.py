"""The demo city's progress bar keeps its counts whole in an 80-column terminal or log."""

from __future__ import annotations

import io

from rich.console import Console

from frontdoor.demo_city.writer import city_bar


def test_the_counts_of_a_100000_resident_city_fit_80_columns() -> None:
    out = io.StringIO()
    console = Console(file=out, width=80)
    bar = city_bar(console)
    task = bar.add_task("city 42", total=100_000, events=0, rate=0.0)
    bar.update(task, completed=99_999, events=842_763, rate=1_400.4)
    console.print(bar.make_tasks_table(bar.tasks))
    line = out.getvalue().strip()
    assert "99999/100000 residents" in line
    assert "842,763 events, 1,400/s" in line
    assert "…" not in line
