"""The one name for a stored document, shared by every service, and how many ids one
`$in` query asks for."""

from collections.abc import Iterable, Iterator
from typing import Any, TypeVar

# A MongoDB document as the services store and read it: a BSON object decoded to a dict.
Document = dict[str, Any]

# Ids per `$in` query. The embedded database checks each document it finds against the
# whole list, so one list of n ids costs n² comparisons; slices of this size keep the
# cost linear for a few more round trips.
IN_SLICE = 100

T = TypeVar("T")


def in_slices(ids: Iterable[T], size: int = IN_SLICE) -> Iterator[list[T]]:
    """`ids` without repeats, in order, `size` at a time."""
    unique = list(dict.fromkeys(ids))
    for start in range(0, len(unique), size):
        yield unique[start : start + size]
