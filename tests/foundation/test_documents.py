"""`in_slices`: the ids of a long `$in` query asked for a slice at a time."""

from shared.documents import in_slices


def test_ids_come_in_slices_in_order_without_repeats() -> None:
    ids = [f"id-{i}" for i in range(250)] + ["id-3", "id-249"]
    slices = list(in_slices(ids))
    assert [len(s) for s in slices] == [100, 100, 50]
    assert [i for s in slices for i in s] == [f"id-{i}" for i in range(250)]


def test_no_ids_make_no_query() -> None:
    assert list(in_slices([])) == []
