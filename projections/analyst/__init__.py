"""The analyst replay (DESIGN §9): the whole CARE stream into pseudonymised tables, and the people-at-risk score."""
