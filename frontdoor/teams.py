"""The team directory (DESIGN §8): who can be referred to, in which cluster, for which needs."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

from pydantic import BaseModel, ConfigDict, PrivateAttr, ValidationError

from events.vocabulary import Need, Sector


class Team(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    id: str
    name: str
    organisation: str
    sector: Sector
    cluster: str
    needs: list[Need]


class Cluster(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    id: str
    name: str


class TeamDirectory(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    clusters: list[Cluster]
    teams: list[Team]

    _index: dict[str, Team] = PrivateAttr(default_factory=dict)

    def model_post_init(self, context: object, /) -> None:
        self._index.update({t.id: t for t in self.teams})

    def get(self, team_id: str) -> Team | None:
        return self._index.get(team_id)

    def serving(self, need: str, cluster: str | None = None) -> list[Team]:
        return [t for t in self.teams if need in t.needs and (cluster is None or t.cluster == cluster)]


class TeamDirectoryError(ValueError):
    pass


def load_teams(path: Path | None) -> TeamDirectory:
    """The directory at `path`, or the Southampton-like default of six clusters shipped with the package."""
    try:
        text = path.read_text() if path else resources.files("frontdoor.data").joinpath("teams.json").read_text()
        directory = TeamDirectory.model_validate(json.loads(text))
    except (OSError, json.JSONDecodeError, ValidationError) as exc:
        raise TeamDirectoryError(f"team directory {path or '(default)'} cannot be read: {exc}") from exc
    ids = [t.id for t in directory.teams]
    if len(ids) != len(set(ids)):
        raise TeamDirectoryError("team ids in the directory must be unique")
    return directory
