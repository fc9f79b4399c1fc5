"""Read models built from the CARE stream: the runner, the tables and each projection. Never imports frontdoor."""
