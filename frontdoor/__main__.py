"""`python -m frontdoor …` is the same as the `frontdoor` console script."""

from frontdoor.cli import app

app(prog_name="frontdoor")
