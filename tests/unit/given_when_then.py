"""Given-when-then for the resident decider, so a test reads as the rule it checks (STYLE point 4):

    given(ResidentRegistered(...)).when(RecordContact(...)).then(ContactRecorded(...))

`given` folds the past with `evolve` from INITIAL_STATE, `when` names the command, and the `then_*` call runs
`decide` and checks what it wrote (the exact list of events) or which domain error it raised.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import reduce
from typing import TypeVar

import pytest

from events.catalogue import Event
from frontdoor.domain.commands import Command
from frontdoor.domain.decide import decide
from frontdoor.domain.errors import DomainError
from frontdoor.domain.evolve import evolve
from frontdoor.domain.state import INITIAL_STATE, ResidentState

E = TypeVar("E", bound=DomainError)


@dataclass(frozen=True, slots=True)
class When:
    state: ResidentState
    command: Command

    def then(self, *expected: Event) -> None:
        """`decide` writes exactly these events, in this order."""
        assert decide(self.command, self.state) == list(expected)

    def then_nothing(self) -> None:
        """`decide` accepts the command but there is no new fact to write (a retry, or nothing changed)."""
        self.then()

    def then_raises(self, error: type[E]) -> E:
        """`decide` refuses with this domain error; it is returned so a test can check its field or detail."""
        with pytest.raises(error) as raised:
            decide(self.command, self.state)
        return raised.value


@dataclass(frozen=True, slots=True)
class Given:
    state: ResidentState

    def when(self, command: Command) -> When:
        return When(self.state, command)


def given(*history: Event) -> Given:
    return Given(reduce(evolve, history, INITIAL_STATE))
