"""The notifier's own knobs, from `MENTORMESH_NOTIFIER_*` environment variables."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.settings import Settings

from .rulebooks import RuleBooks, rule_books
from .rules import DEFAULT_RULES_FILE, Duration, load_rules


class NotifierSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MENTORMESH_NOTIFIER_", extra="ignore")

    # "event": now is the latest committed event time (replays and simulated weeks
    # behave like real ones); "wall": never behind the wall clock either.
    clock: Literal["event", "wall"] = "event"
    # How late an event of one topic may arrive relative to others and still be taken
    # into account before timers fire ("90m", "1h", "2d").
    grace: Duration = timedelta(hours=1)
    # Escalation recipients for every programme, comma-separated, on top of each
    # programme's own `[nudges] admins`.
    admins: str = ""
    # The base rules file; each programme's `[nudges]` section is laid over it.
    rules_file: Path = DEFAULT_RULES_FILE
    # How long a process may hold a person's timers before another may take over.
    lease_s: float = Field(default=30.0, gt=0.0)
    # Pause between looks for due timers when none were due (a consumed batch that
    # moves event time on makes the loop look at once).
    poll_s: float = Field(default=1.0, gt=0.0)
    # Due timers read per look.
    batch: int = Field(default=500, ge=1)
    # People leased and settled together, in one transaction per round.
    group: int = Field(default=100, ge=1)
    # Such groups settled side by side by one process.
    concurrency: int = Field(default=2, ge=1)

    def admin_ids(self) -> tuple[str, ...]:
        return tuple(a.strip() for a in self.admins.split(",") if a.strip())

    def rulebooks(self, settings: Settings) -> RuleBooks:
        return rule_books(load_rules(self.rules_file), settings.programmes_dir, self.admin_ids())
