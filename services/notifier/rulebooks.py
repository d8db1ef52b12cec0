"""The rule book of each programme: the base rules file with the programme's
`[nudges]` section laid over it, plus admins configured for the whole service."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeAlias

from shared.programmes import ProgrammeBook

from .rules import RuleBook, RulesError

RuleBooks: TypeAlias = ProgrammeBook[RuleBook]


def rule_books(
    base: RuleBook,
    programmes_dir: Path | None = None,
    extra_admins: tuple[str, ...] = (),
    *,
    use_programme_files: bool = True,
) -> RuleBooks:
    """One `RuleBook` per programme id.

    With `use_programme_files=False` every programme gets the base book as is: what
    `nudges simulate --rules FILE` wants when an admin tries a rules file before
    switching it on."""

    def overlaid(programme_id: str, section: dict[str, Any]) -> RuleBook:
        try:
            return base.overlaid(section, extra_admins)
        except RulesError as exc:
            raise RulesError(f"programme {programme_id!r}: {exc}") from None

    return ProgrammeBook("nudges", overlaid, programmes_dir, read_files=use_programme_files)
