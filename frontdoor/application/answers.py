"""What a use case answers: the body an edge sends back, and the status it maps to."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Answer:
    body: dict[str, Any]
    status: int = 200
    replayed: bool = False  # the first answer to the same request, given again: nothing new was written

    @property
    def seq(self) -> int:
        return int(self.body.get("seq", 0))
