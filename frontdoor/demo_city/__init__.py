"""A synthetic Southampton-like city written through the real command path (`frontdoor demo-city`, and
`serve --demo`), with the truth about the duplication injected into it.

`people` makes the residents, `story` their histories, `truth` the injected duplication and near misses,
`plan` puts the city together (all pure, from the seed); `writer` writes it through the command handler.
"""

from frontdoor.demo_city.writer import CityReport, run_demo_city, write_city

__all__ = ["CityReport", "run_demo_city", "write_city"]
