"""All configuration, from FRONTDOOR_* environment variables (DESIGN §8). Nothing else reads the environment."""

from __future__ import annotations

import secrets
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FRONTDOOR_", extra="ignore")

    nats_url: str | None = Field(
        default=None, description="NATS to use (comma-separated for a cluster); unset = embedded nats-server"
    )
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL of the read models; default sqlite under the data dir"
    )
    data_dir: Path = Field(default=Path("./var"), description="Where the embedded NATS and SQLite keep data")
    jwt_secret: str | None = Field(default=None, description="HS256 secret; generated into the data dir if unset")
    teams_file: Path | None = Field(default=None, description="Team directory JSON; a Southampton-like default")
    stream_replicas: int = Field(default=1, ge=1, le=5, description="Replicas of the streams (3 in a cluster)")
    read_wait_s: float = Field(default=5.0, gt=0, le=60, description="Longest wait of a ?min_seq= read")
    command_retries: int = Field(default=5, ge=1, le=50, description="Decide-append attempts before a 409")
    command_patience_s: float = Field(
        default=2.0, ge=0, le=60, description="After its retries, a command losing to other writers goes on this long")
    state_cache_size: int = Field(default=50_000, ge=0, description="Folded resident states kept in memory")
    projection_batch: int = Field(default=500, ge=1, le=5000, description="Events a projection applies at once")
    projection_gather_s: float = Field(
        default=0.05, ge=0, le=1.0,
        description="Live under load, a projection commits at most this often (the router: at once); 0 = each event")
    repeat_assessment_days: int = Field(default=28, ge=1, description="Repeat assessment window (days)")
    story_contacts: int = Field(default=3, ge=2, description="Contacts about one need that make failure demand")
    story_days: int = Field(default=14, ge=1, description="Tell-my-story-again window (days)")
    ping_pong_days: int = Field(default=30, ge=1, description="Handoff ping-pong window (days)")
    person_match: float = Field(default=0.82, gt=0, le=1, description="Possible duplicate resident score")
    catch_up_processes: int = Field(
        default=2, ge=1, le=2, description="Processes a projector far behind catches up with (1: this one only)")
    catch_up_help_from: int = Field(
        default=50_000, ge=1, description="Events behind the stream from which a second process helps catch up")
    lease_ttl_s: float = Field(default=10.0, ge=0.5, le=300, description="Projection lease TTL: failover time")
    max_body_bytes: int = Field(default=262_144, ge=1024, le=16 * 1024 * 1024,
                                description="Largest request body accepted; larger ones get 413 before parsing")
    poison_policy: str = Field(default="stop", pattern="^(stop|park)$", description="stop, or park on dead letter")
    pseudonym_key: str | None = Field(
        default=None, description="HMAC key of analyst pseudonyms; generated into the data dir if unset"
    )
    # Operations (issue 14)
    metrics_token: str | None = Field(default=None, description="Bearer token /metrics asks for; unset = open")
    log_format: str = Field(default="auto", pattern="^(auto|json|text)$",
                            description="json, text, or auto: text on a terminal, JSON otherwise")

    def resolved_data_dir(self) -> Path:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        return self.data_dir.resolve()

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{self.resolved_data_dir() / 'frontdoor.db'}"

    def resolved_jwt_secret(self) -> str:
        if self.jwt_secret:
            return self.jwt_secret
        path = self.resolved_data_dir() / "jwt-secret"
        if not path.exists():
            path.write_text(secrets.token_urlsafe(48))
            path.chmod(0o600)
        return path.read_text().strip()

    def resolved_pseudonym_key(self) -> bytes:
        """The analyst pseudonym key: the same key, the same pseudonyms in every export (so exports join)."""
        if self.pseudonym_key:
            return self.pseudonym_key.encode()
        path = self.resolved_data_dir() / "pseudonym-key"
        if not path.exists():
            path.write_text(secrets.token_urlsafe(48))
            path.chmod(0o600)
        return path.read_text().strip().encode()
