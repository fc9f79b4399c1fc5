"""The application layer (STYLE §14): one function per use case, between the edges and the domain.

HTTP routes, UI pages, team commands over NATS and `demo-city` translate their input, call one use case, and
translate its answer; none calls another edge's functions. A use case that needs several steps (claim an NHS
number, append, compensate; check a team's right to act; confirm a refusal) does them here, once.
"""
