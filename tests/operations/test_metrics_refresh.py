"""Gauges read from the database are refreshed at most every `refresh_every_s`,
however often `/metrics` is scraped."""

from __future__ import annotations

from shared.metrics import ServiceMetrics


def counting_metrics(refresh_every_s: float) -> tuple[ServiceMetrics, list[int]]:
    metrics = ServiceMetrics(refresh_every_s=refresh_every_s)
    reads: list[int] = []

    async def read() -> int:
        reads.append(1)
        return len(reads)

    metrics.gauge_at_scrape("mentormesh_test_reads", "Reads so far.", read)
    return metrics, reads


async def test_scrapes_closer_than_the_interval_read_the_database_once() -> None:
    metrics, reads = counting_metrics(refresh_every_s=60.0)
    for _ in range(5):
        await metrics.refresh()
    assert len(reads) == 1
    assert metrics.registry.get_sample_value("mentormesh_test_reads") == 1


async def test_with_no_interval_every_scrape_reads_again() -> None:
    metrics, reads = counting_metrics(refresh_every_s=0.0)
    for _ in range(3):
        await metrics.refresh()
    assert len(reads) == 3
