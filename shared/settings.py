"""Configuration shared by every service, read from `MENTORMESH_*` environment variables."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.erasure import DEVELOPMENT_SECRET, Pseudonyms


class Settings(BaseSettings):
    """Where Kafka and MongoDB are, and how topics are named.

    When `kafka_bootstrap` or `mongo_uri` is unset, the addresses written by
    `mentormesh infra up` into `state_dir` are used, so a developer never has to
    copy ports around.
    """

    model_config = SettingsConfigDict(env_prefix="MENTORMESH_", extra="ignore")

    kafka_bootstrap: str | None = None
    mongo_uri: str | None = None
    topic_prefix: str = "mentormesh"
    partitions: int = Field(default=4, ge=1)
    state_dir: Path = Path(".mentormesh")
    # Ports of the embedded stack; 0 picks a free port.
    kafka_port: int = 0
    mongo_port: int = 0
    # Database names get this prefix, so test runs and the demo never share state.
    database_prefix: str = "mentormesh"
    http_host: str = "127.0.0.1"
    http_port: int = 0
    programmes_dir: Path | None = None
    # The key of erasure tombstones (`shared.erasure`): the same in every service and
    # every process, and kept secret. The default is for development only.
    erasure_secret: SecretStr = SecretStr(DEVELOPMENT_SECRET)

    def pseudonyms(self) -> Pseudonyms:
        return Pseudonyms(self.erasure_secret)

    def infra_file(self) -> Path:
        return self.state_dir / "infra.json"

    def resolved_kafka(self) -> str:
        if self.kafka_bootstrap:
            return self.kafka_bootstrap
        return str(self._recorded("kafka_bootstrap"))

    def resolved_mongo(self) -> str:
        if self.mongo_uri:
            return self.mongo_uri
        return str(self._recorded("mongo_uri"))

    def database_name(self, service: str) -> str:
        return f"{self.database_prefix}_{service}"

    def _recorded(self, key: str) -> object:
        path = self.infra_file()
        if not path.exists():
            raise RuntimeError(
                f"no {key} configured: set MENTORMESH_{key.upper()} "
                f"or start the local stack with `mentormesh infra up` ({path} is missing)"
            )
        return json.loads(path.read_text())[key]
