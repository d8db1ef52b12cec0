"""Quiet hours in the recipient's own time zone: when a nudge may not be sent, and
when the window ends (daylight-saving changes included)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class QuietHours:
    start: time
    end: time

    def is_quiet(self, instant: datetime, zone: ZoneInfo) -> bool:
        local = instant.astimezone(zone).time()
        if self.start == self.end:
            return False
        if self.start < self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end

    def next_open(self, instant: datetime, zone: ZoneInfo) -> datetime:
        """`instant` itself outside quiet hours, else the end of the current window."""
        if not self.is_quiet(instant, zone):
            return instant
        local = instant.astimezone(zone)
        ends_tomorrow = self.start > self.end and local.time() >= self.start
        day = local.date() + timedelta(days=1 if ends_tomorrow else 0)
        candidates = []
        for offset in (0, 1):
            for fold in (0, 1):
                wall = datetime.combine(day + timedelta(days=offset), self.end, tzinfo=zone)
                candidates.append(wall.replace(fold=fold).astimezone(UTC))
        opened = min(c for c in candidates if c > instant and not self.is_quiet(c, zone))
        if opened.astimezone(zone).time() == self.end:
            return opened
        # The end time fell in a daylight-saving gap: the window really ended when the
        # clocks jumped past it. Find that instant (to the millisecond).
        low, high = instant, opened
        while high - low > timedelta(milliseconds=1):
            middle = low + (high - low) / 2
            middle = middle.replace(microsecond=middle.microsecond - middle.microsecond % 1000)
            if middle <= low:
                break
            if self.is_quiet(middle, zone):
                low = middle
            else:
                high = middle
        return high
