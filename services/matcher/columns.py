"""Many mentors as numpy columns, so one mentee is checked and scored against all of
them with array expressions instead of a Python loop.

Tags and languages are interned to ids and held as sparse rows (one row per mentor).
`MentorColumns` holds what the hard constraints read; `ranking.MentorIndex` adds the
tag matrices that scoring reads.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import sparse

from .profiles import MentorStanding, Person

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
ObjectArray = npt.NDArray[np.object_]


class Vocabulary:
    """Tags (or languages) interned to column ids."""

    def __init__(self) -> None:
        self.ids: dict[str, int] = {}

    def intern(self, tag: str) -> int:
        return self.ids.setdefault(tag, len(self.ids))

    def indicator(self, tags: Iterable[str]) -> FloatArray:
        # At least one column, like the matrices: an empty vocabulary still multiplies.
        vector = np.zeros(max(len(self.ids), 1), dtype=np.float64)
        for tag in tags:
            i = self.ids.get(tag)
            if i is not None:
                vector[i] = 1.0
        return vector


def sparse_rows(rows: Sequence[Mapping[int, float]], width: int) -> sparse.csr_matrix:
    """One sparse row per mapping of column id -> value."""
    indptr = np.zeros(len(rows) + 1, dtype=np.int64)
    indices: list[int] = []
    data: list[float] = []
    for r, row in enumerate(rows):
        for col in sorted(row):
            indices.append(col)
            data.append(row[col])
        indptr[r + 1] = len(indices)
    return sparse.csr_matrix(
        (np.asarray(data, dtype=np.float64), np.asarray(indices, dtype=np.int64), indptr),
        shape=(len(rows), max(width, 1)),
    )


@dataclass(frozen=True, eq=False)
class MentorColumns:
    """What the hard constraints read about many mentors, one entry per mentor."""

    mentors: tuple[Person, ...]
    ids: ObjectArray
    row_of: Mapping[str, int]
    is_mentor: BoolArray
    paused: BoolArray
    capacity: FloatArray
    load: FloatArray
    offsets: FloatArray
    languages: sparse.csr_matrix
    language_ids: Vocabulary
    programmes: Mapping[str, BoolArray]

    @classmethod
    def of(
        cls, mentors: Sequence[Person], standings: Mapping[str, MentorStanding] | None = None
    ) -> MentorColumns:
        standings = standings or {}
        language_ids = Vocabulary()
        language_rows = [{language_ids.intern(lang): 1.0 for lang in m.languages} for m in mentors]
        programmes = sorted({p for m in mentors for p in m.programmes})
        return cls(
            mentors=tuple(mentors),
            ids=np.array([m.person_id for m in mentors], dtype=object),
            row_of={m.person_id: i for i, m in enumerate(mentors)},
            is_mentor=np.array([m.is_mentor for m in mentors], dtype=np.bool_),
            paused=np.array([m.paused for m in mentors], dtype=np.bool_),
            capacity=np.array([m.capacity for m in mentors], dtype=np.float64),
            load=np.array(
                [standings.get(m.person_id, MentorStanding()).load for m in mentors],
                dtype=np.float64,
            ),
            offsets=np.array([m.utc_offset for m in mentors], dtype=np.float64),
            languages=sparse_rows(language_rows, len(language_ids.ids)),
            language_ids=language_ids,
            programmes={
                p: np.array([p in m.programmes for m in mentors], dtype=np.bool_)
                for p in programmes
            },
        )

    def __len__(self) -> int:
        return len(self.mentors)

    def in_programme(self, programme_id: str) -> BoolArray:
        found = self.programmes.get(programme_id)
        return found if found is not None else np.zeros(len(self), dtype=np.bool_)

    def rows(self, mentor_ids: Iterable[str]) -> list[int]:
        return [self.row_of[m] for m in mentor_ids if m in self.row_of]
