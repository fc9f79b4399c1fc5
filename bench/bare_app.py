"""The baseline server of benchmark 4: FastAPI with the same request body model as the real contact route
(`frontdoor.application.inputs.ContactBody`), doing nothing but answer 201. Served by uvicorn with one worker."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from events.ids import uuid7
from frontdoor.application.inputs import ContactBody

app = FastAPI(title="bare baseline")


@app.post("/residents/{resident_id}/contacts", status_code=201)
async def record_contact(resident_id: str, body: ContactBody) -> dict[str, Any]:
    return {"contact_id": uuid7(), "resident_id": resident_id, "seq": 0}


@app.get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}
