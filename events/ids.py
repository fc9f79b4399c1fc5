"""Identifiers: time-ordered UUIDv7 for new things, UUIDv5 for ids that must repeat on a retry."""

from __future__ import annotations

import os
import time
import uuid

# A fixed namespace so that the same idempotency key always yields the same ids, in every process.
FRONTDOOR_NAMESPACE = uuid.UUID("6f1c2a52-5a0e-4d1c-9d8e-1f7c0b6a2e01")


def uuid7() -> str:
    """A UUIDv7 (RFC 9562): sortable by creation time, so stream and table order agree."""
    millis = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (millis & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76
    value |= ((rand >> 62) & 0xFFF) << 64
    value |= 0b10 << 62
    value |= rand & ((1 << 62) - 1)
    # Formatted here rather than through uuid.UUID(int=...), whose checks cost as much again; four ids a request.
    digits = f"{value:032x}"
    return f"{digits[:8]}-{digits[8:12]}-{digits[12:16]}-{digits[16:20]}-{digits[20:]}"


def derived_id(*parts: str) -> str:
    """A deterministic id from its parts: a retried command re-creates exactly the same ids."""
    return str(uuid.uuid5(FRONTDOOR_NAMESPACE, "\x1f".join(parts)))
