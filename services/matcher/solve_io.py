"""Files in and out of a cohort run: SCORES/CAPS CSV, people JSONL, the JSON result.

SCORES.csv: header `mentee,mentor,score` and optionally a fourth column `mentor_score`
(the mentor's preference; when the column is absent, or a cell of it is empty, it is the
`score`). One row per allowed pair; a pair that is absent may not be matched.
CAPS.csv: header `mentor,capacity`, capacity a whole number >= 0. Every mentor of SCORES must
be listed: a mentor missing from CAPS is an error rather than a silent capacity 0, since a
typo in an id would otherwise drop all their pairs without a word (list them with capacity 0
to leave them out on purpose). Cells are taken with surrounding spaces removed; blank lines
are skipped.

PEOPLE.jsonl: one profile per line, either a `ProfileUpserted` data object or a whole
CloudEvent (profile.upserted, or profile.deleted which removes the person). The highest
revision of a person wins (the later line on equal revisions).
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import ValidationError

from shared.events import InvalidEvent, ProfileDeleted, ProfileUpserted, load_json, parse_event

from .cohort import (
    MAX_ABS_SCORE,
    Cohort,
    Enrolment,
    FloatArray,
    IntArray,
    InvalidCohort,
    Matching,
    Mode,
    Objective,
)
from .cohort_scoring import Reasons

SCORES_HEADER = ("mentee", "mentor", "score")
CAPS_HEADER = ("mentor", "capacity")


class SolveInputError(ValueError):
    """An input file that cannot be used; the message names the file and line."""


def _where(path: Path, line: int | None = None) -> str:
    return f"{path}" if line is None else f"{path} line {line}"


@dataclass(frozen=True)
class _Table:
    """A CSV file's header and non-blank data rows, read in bulk (cells not yet stripped)."""

    path: Path
    header: tuple[str, ...]
    rows: list[list[str]]

    def line(self, index: int) -> int:
        """The file line of data row `index`. Only error messages need it, so the file is
        read again rather than every row's line number being kept."""
        with self.path.open(encoding="utf-8-sig", newline="") as fh:
            reader = csv.reader(fh)
            seen = -1  # the header
            for cells in reader:
                if _is_blank(cells):
                    continue
                if seen == index:
                    return reader.line_num
                seen += 1
        raise IndexError(index)

    def where(self, index: int) -> str:
        return f"{self.path} line {self.line(index)}"

    def column(self, k: int) -> list[str]:
        return [row[k].strip() for row in self.rows]

    def check_width(self) -> None:
        width = len(self.header)
        bad = next((i for i, row in enumerate(self.rows) if len(row) != width), None)
        if bad is not None:
            raise SolveInputError(
                f"{self.where(bad)}: expected {width} fields ({','.join(self.header)}), "
                f"got {len(self.rows[bad])}"
            )

    def check_ids(self, k: int, name: str) -> list[str]:
        values = self.column(k)
        if "" in values:
            raise SolveInputError(f"{self.where(values.index(''))}: {name} is empty")
        return values

    def numbers(self, values: list[str], name: str) -> FloatArray:
        try:
            parsed = np.array(values, dtype=np.float64)
        except ValueError:
            bad = next(i for i, text in enumerate(values) if not _parses(text))
            raise SolveInputError(
                f"{self.where(bad)}: {name} {values[bad]!r} is not a number"
            ) from None
        out_of_range = ~np.isfinite(parsed) | (np.abs(parsed) > MAX_ABS_SCORE)
        if np.any(out_of_range):
            bad = int(np.argmax(out_of_range))
            raise SolveInputError(
                f"{self.where(bad)}: {name} {values[bad]!r} is not a finite number within "
                f"±{MAX_ABS_SCORE:g}"
            )
        return parsed


def _is_blank(cells: list[str]) -> bool:
    return not cells or (len(cells) == 1 and not cells[0].strip())


def _parses(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _read_table(path: Path, expected: str) -> _Table:
    try:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            rows = [cells for cells in csv.reader(fh) if not _is_blank(cells)]
    except FileNotFoundError:
        raise SolveInputError(f"{path}: no such file") from None
    except (UnicodeDecodeError, csv.Error) as exc:
        raise SolveInputError(f"{path}: not a readable UTF-8 CSV file ({exc})") from None
    if not rows:
        raise SolveInputError(f"{path}: the file is empty (expected the header {expected})")
    header = tuple(cell.strip() for cell in rows[0])
    return _Table(path, header, rows[1:])


def _interned(values: list[str], index: dict[str, int]) -> IntArray:
    return np.array([index.setdefault(v, len(index)) for v in values], dtype=np.int64)


@dataclass(frozen=True)
class ScoreTable:
    """SCORES.csv as columns: ids in order of first appearance, and per row their indices."""

    mentees: list[str]
    mentors: list[str]
    pair_mentee: IntArray
    pair_mentor: IntArray
    score: FloatArray
    mentor_score: FloatArray


def read_scores(path: Path) -> ScoreTable:
    table = _read_table(path, ",".join(SCORES_HEADER))
    with_mentor_score = table.header == (*SCORES_HEADER, "mentor_score")
    if table.header != SCORES_HEADER and not with_mentor_score:
        raise SolveInputError(
            f"{path} line 1: the header must be 'mentee,mentor,score' or "
            f"'mentee,mentor,score,mentor_score', not {','.join(table.header)!r}"
        )
    table.check_width()
    mentees = table.check_ids(0, "mentee")
    mentors = table.check_ids(1, "mentor")
    itself = next(
        (i for i, (a, b) in enumerate(zip(mentees, mentors, strict=True)) if a == b), None
    )
    if itself is not None:
        raise SolveInputError(
            f"{table.where(itself)}: {mentees[itself]!r} cannot mentor themselves"
        )
    score_text = table.column(2)
    score = table.numbers(score_text, "score")
    mentor_score = score
    if with_mentor_score:
        mentor_score_text = table.column(3)
        mentor_score = table.numbers(
            [m or s for m, s in zip(mentor_score_text, score_text, strict=True)], "mentor_score"
        )
    mentee_index: dict[str, int] = {}
    mentor_index: dict[str, int] = {}
    pair_mentee = _interned(mentees, mentee_index)
    pair_mentor = _interned(mentors, mentor_index)
    key = pair_mentee * max(len(mentor_index), 1) + pair_mentor
    order = np.argsort(key, kind="stable")
    repeated = np.flatnonzero(key[order][1:] == key[order][:-1])
    if repeated.size:
        # The earliest row that repeats a pair, and the row it repeats.
        later = order[repeated + 1]
        k = int(np.argmin(later))
        again, first = int(later[k]), int(order[repeated[k]])
        raise SolveInputError(
            f"{table.where(again)}: the pair ({mentees[again]}, {mentors[again]}) is already "
            f"on line {table.line(first)}"
        )
    return ScoreTable(
        mentees=list(mentee_index),
        mentors=list(mentor_index),
        pair_mentee=pair_mentee,
        pair_mentor=pair_mentor,
        score=score,
        mentor_score=mentor_score,
    )


def read_capacities(path: Path) -> dict[str, int]:
    table = _read_table(path, ",".join(CAPS_HEADER))
    if table.header != CAPS_HEADER:
        raise SolveInputError(
            f"{path} line 1: the header must be 'mentor,capacity', not {','.join(table.header)!r}"
        )
    table.check_width()
    mentors = table.check_ids(0, "mentor")
    capacities: dict[str, int] = {}
    first_row: dict[str, int] = {}
    for i, (mentor, text) in enumerate(zip(mentors, table.column(1), strict=True)):
        if mentor in capacities:
            raise SolveInputError(
                f"{table.where(i)}: mentor {mentor!r} is already on line "
                f"{table.line(first_row[mentor])}"
            )
        try:
            capacity = int(text)
        except ValueError:
            raise SolveInputError(
                f"{table.where(i)}: capacity {text!r} is not a whole number"
            ) from None
        if capacity < 0:
            raise SolveInputError(f"{table.where(i)}: capacity {capacity} is negative")
        capacities[mentor] = capacity
        first_row[mentor] = i
    return capacities


def cohort_from_csv(scores_path: Path, capacities_path: Path) -> Cohort:
    scores = read_scores(scores_path)
    capacities = read_capacities(capacities_path)
    missing = sorted(set(scores.mentors) - capacities.keys())
    if missing:
        shown = ", ".join(repr(m) for m in missing[:5])
        more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        raise SolveInputError(
            f"{capacities_path}: no capacity for mentor(s) {shown}{more} used in {scores_path} "
            f"(list a mentor with capacity 0 to leave them out)"
        )
    mentors = list(capacities)
    column = {m: j for j, m in enumerate(mentors)}
    to_column = np.array([column[m] for m in scores.mentors], dtype=np.int64)
    try:
        return Cohort.from_arrays(
            enrolments=[Enrolment("", m) for m in scores.mentees],
            mentors=mentors,
            capacity=np.array(list(capacities.values()), dtype=np.int64),
            pair_enrolment=scores.pair_mentee,
            pair_mentor=to_column[scores.pair_mentor],
            score=scores.score,
            mentor_score=scores.mentor_score,
        )
    except InvalidCohort as exc:
        raise SolveInputError(f"{scores_path}: {exc}") from None


def read_people(path: Path) -> list[ProfileUpserted]:
    """The people of a JSONL file, one current profile each, in person id order."""
    people: dict[str, ProfileUpserted] = {}
    try:
        # Bytes that are not UTF-8 stay in their line, which is then reported.
        text = path.read_text(encoding="utf-8-sig", errors="surrogateescape")
    except FileNotFoundError:
        raise SolveInputError(f"{path}: no such file") from None
    for line, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        record = _profile_record(path, line, raw)
        if isinstance(record, ProfileDeleted):
            people.pop(record.person_id, None)
            continue
        seen = people.get(record.person_id)
        if seen is None or record.revision >= seen.revision:
            people[record.person_id] = record
    return [people[k] for k in sorted(people)]


def _profile_record(path: Path, line: int, raw: str) -> ProfileUpserted | ProfileDeleted:
    try:
        obj = load_json(raw)
    except InvalidEvent as exc:
        problem = f"not JSON ({exc.detail})" if exc.reason == "not-json" else str(exc)
        raise SolveInputError(f"{_where(path, line)}: {problem}") from None
    if not isinstance(obj, dict):
        raise SolveInputError(f"{_where(path, line)}: expected a JSON object")
    if "specversion" in obj:
        try:
            event = parse_event(raw, "profiles")
        except InvalidEvent as exc:
            raise SolveInputError(f"{_where(path, line)}: {exc}") from None
        data = event.data
        assert isinstance(data, ProfileUpserted | ProfileDeleted)  # the profiles topic's types
        return data
    try:
        return ProfileUpserted.model_validate_json(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(root)"
        raise SolveInputError(
            f"{_where(path, line)}: not a profile ({where}: {first['msg']})"
        ) from None


def result_document(
    matching: Matching,
    mode: Mode,
    objective: Objective | None,
    reasons: Reasons | None = None,
) -> dict[str, Any]:
    """The JSON result. With `reasons` (a `--profiles` run) every assignment also carries its
    programme and reasons, and an unmatched entry is `{"mentee", "programme"}` because a
    mentee is matched per programme; otherwise unmatched entries are mentee ids."""
    assignments: list[dict[str, Any]] = []
    for a in matching.assignments():
        item: dict[str, Any] = {"mentee": a.mentee, "mentor": a.mentor, "score": a.score}
        if reasons is not None:
            item["programme"] = a.programme
            item["reasons"] = list(reasons.get((a.programme, a.mentee, a.mentor), ()))
        assignments.append(item)
    unmatched: list[Any] = [
        {"mentee": e.mentee, "programme": e.programme} if reasons is not None else e.mentee
        for e in matching.unmatched()
    ]
    return {
        "mode": mode,
        "objective": objective,
        "assignments": assignments,
        "unmatched": unmatched,
        "spare_capacity": [{"mentor": m, "spare": s} for m, s in matching.spare_capacity()],
        "matched": len(assignments),
        "total_score": matching.total_score,
        "blocking_pairs": matching.blocking_pairs(),
    }


def dump_document(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
