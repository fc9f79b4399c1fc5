"""frontdoor: the single front door for joined-up health and social care."""
