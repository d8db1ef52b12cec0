"""The rule book of each programme: the base rules file with the programme's
`[nudges]` section laid over it, plus admins configured for the whole service."""

from __future__ import annotations

from pathlib import Path

from shared.programmes import load_programme_section

from .rules import RuleBook, RulesError


class RuleBooks:
    """Resolves and caches one `RuleBook` per programme id.

    With `programmes_dir=None` and `use_programme_files=False` every programme gets
    the base book as is: what `nudges simulate --rules FILE` wants when an admin tries
    a rules file before switching it on."""

    def __init__(
        self,
        base: RuleBook,
        programmes_dir: Path | None = None,
        extra_admins: tuple[str, ...] = (),
        *,
        use_programme_files: bool = True,
    ) -> None:
        self.base = base
        self.programmes_dir = programmes_dir
        self.extra_admins = extra_admins
        self.use_programme_files = use_programme_files
        self._books: dict[str, RuleBook] = {}

    def for_programme(self, programme_id: str | None) -> RuleBook:
        key = programme_id or "default"
        book = self._books.get(key)
        if book is None:
            book = self._resolve(key)
            self._books[key] = book
        return book

    def _resolve(self, programme_id: str) -> RuleBook:
        section = {}
        if self.use_programme_files:
            section = load_programme_section(self.programmes_dir, programme_id, "nudges")
        try:
            return self.base.overlaid(section, self.extra_admins)
        except RulesError as exc:
            raise RulesError(f"programme {programme_id!r}: {exc}") from None
