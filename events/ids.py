"""Identifiers: time-ordered UUIDv7 for new things, UUIDv5 for ids that must repeat on a retry."""

from __future__ import annotations

import os
import threading
import time
import uuid

# A fixed namespace so that the same idempotency key always yields the same ids, in every process.
FRONTDOOR_NAMESPACE = uuid.UUID("6f1c2a52-5a0e-4d1c-9d8e-1f7c0b6a2e01")


class _Randomness:
    """The operating system's randomness, fetched 4 KiB at a time. On some of our VMs an `os.urandom` call costs
    11 µs (cProfile, 2026-11-30: uuid7 was 29% of the concurrent command path), on others 0.3 µs; one call per 409
    ids makes that difference vanish. The bytes are as random as before and each is handed out once. A forked
    child starts with none, so that parent and child never hand out the same bytes."""

    SIZE = 4096

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._bytes = b""
        self._at = 0

    def take(self, n: int) -> bytes:
        with self._lock:
            if self._at + n > len(self._bytes):
                self._bytes = os.urandom(self.SIZE)
                self._at = 0
            taken = self._bytes[self._at : self._at + n]
            self._at += n
            return taken

    def forget(self) -> None:
        self._lock = threading.Lock()  # another thread may have held it at the fork
        self._bytes = b""
        self._at = 0


_randomness = _Randomness()
os.register_at_fork(after_in_child=_randomness.forget)


def uuid7() -> str:
    """A UUIDv7 (RFC 9562): sortable by creation time, so stream and table order agree."""
    millis = time.time_ns() // 1_000_000
    rand = int.from_bytes(_randomness.take(10), "big")
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
