"""The HTTP API (DESIGN §6): FastAPI routers, bearer-token roles, problem+json errors."""
