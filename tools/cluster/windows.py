"""Maintenance windows from the fleet file: weekly windows in a time zone, or explicit dates, per environment.

    maintenance_windows:
      prod:
      - weekly: {days: [tue, thu], start: "22:00", hours: 4, timezone: Europe/Berlin}
      - from: 2026-12-24T20:00:00+01:00
        until: 2026-12-25T02:00:00+01:00

`next_opening` answers "when may a change of this length start at or after this moment": the plan's timeline
places disruptive change sets with it and `upgradectl execute` refuses to start one outside its window.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
HORIZON_DAYS = 366  # a window more than a year away is treated as none


class WeeklyWindow(BaseModel):
    """Every week on these days, from `start` (local time in `timezone`) for `hours`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    days: list[str] = Field(min_length=1, description="mon..sun")
    start: str = Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$", description="HH:MM, local time")
    hours: float = Field(gt=0, le=168)
    timezone: str = "UTC"

    @field_validator("days")
    @classmethod
    def _days(cls, days: list[str]) -> list[str]:
        full = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
        wrong = [d for d in days if d.lower() not in DAYS and d.lower() not in full]
        if wrong:
            raise ValueError(f"days {', '.join(wrong)}: use mon, tue, wed, thu, fri, sat, sun")
        return [d.lower()[:3] for d in days]

    @field_validator("timezone")
    @classmethod
    def _zone(cls, zone: str) -> str:
        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"timezone {zone!r} is not an IANA time zone (e.g. Europe/Berlin, UTC)") from None
        return zone


class WindowSpec(BaseModel):
    """One maintenance window entry: `weekly`, or `from` and `until` (ISO date-times with an offset)."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    weekly: WeeklyWindow | None = None
    start: datetime | None = Field(default=None, alias="from")
    end: datetime | None = Field(default=None, alias="until")

    @model_validator(mode="after")
    def _one_kind(self) -> WindowSpec:
        dated = self.start is not None or self.end is not None
        if bool(self.weekly) == dated:
            raise ValueError("a maintenance window is either weekly: {...} or from: and until: (ISO date-times)")
        if dated:
            if self.start is None or self.end is None:
                raise ValueError("a dated maintenance window needs both from: and until:")
            if self.start.tzinfo is None or self.end.tzinfo is None:
                raise ValueError("from:/until: need a UTC offset, e.g. 2026-12-24T20:00:00+01:00")
            if self.end <= self.start:
                raise ValueError(f"maintenance window until {self.end.isoformat()} is not after from")
        return self

    def describe(self) -> str:
        if self.weekly is not None:
            w = self.weekly
            return f"weekly {','.join(w.days)} {w.start} {w.timezone} for {w.hours:g}h"
        assert self.start is not None and self.end is not None
        return f"{self.start.isoformat()} to {self.end.isoformat()}"


@dataclass(frozen=True)
class Opening:
    """One concrete occurrence of a window."""

    start: datetime
    end: datetime
    window: str  # the entry it comes from, described

    def describe(self) -> str:
        return f"{self.start.astimezone(UTC):%Y-%m-%d %H:%M} to {self.end.astimezone(UTC):%Y-%m-%d %H:%M} UTC " \
               f"({self.window})"


def occurrences(spec: WindowSpec, after: datetime) -> list[Opening]:
    """The openings of one entry that end after `after`, up to a year ahead, in order."""
    if spec.weekly is None:
        assert spec.start is not None and spec.end is not None
        return [Opening(spec.start, spec.end, spec.describe())] if spec.end > after else []
    w = spec.weekly
    zone = ZoneInfo(w.timezone)
    local = after.astimezone(zone)
    hour, minute = (int(x) for x in w.start.split(":"))
    found = []
    for offset in range(-7, HORIZON_DAYS):  # from a week back: a window that began earlier may still be open
        day = local.date() + timedelta(days=offset)
        if DAYS[day.weekday()] not in w.days:
            continue
        start = datetime.combine(day, time(hour, minute), tzinfo=zone)
        end = start + timedelta(hours=w.hours)
        if end > after:
            found.append(Opening(start, end, spec.describe()))
    return found


def next_opening(specs: list[WindowSpec], at: datetime, minutes: float = 0) -> Opening | None:
    """The first opening in which a change of `minutes` can start at or after `at` (None: no window fits)."""
    need = timedelta(minutes=minutes)
    best: tuple[datetime, Opening] | None = None
    for spec in specs:
        for opening in occurrences(spec, at):
            begin = max(opening.start, at)
            if begin + need <= opening.end:
                if best is None or begin < best[0]:
                    best = (begin, opening)
                break
    return best[1] if best else None


def inside(specs: list[WindowSpec], at: datetime) -> Opening | None:
    """The opening `at` falls in, if any."""
    for spec in specs:
        for opening in occurrences(spec, at):
            if opening.start <= at < opening.end:
                return opening
    return None
