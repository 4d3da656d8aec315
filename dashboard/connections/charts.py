"""The overview's charts, their geometry computed here so that the templates only place ready
numbers into an inline SVG (no script, no inline styles):

- ``adoption_chart``: the version adoption chart (horizontal bars).
- ``daily_chart``: a count per day (vertical bars), such as connections entering needs_reauth.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

WIDTH = 640
LABEL_WIDTH = 120  # version numbers, right-aligned before the bars
VALUE_WIDTH = 110  # "1,234 · 66.7%" after the longest bar
BAR_HEIGHT = 22
GAP = 10
PADDING = 6


@dataclass(frozen=True)
class Bar:
    version: str
    count: int
    percent: str  # "66.7%"
    y: int
    width: float  # the bar's length in user units (at least 2 for a non-zero count)
    text_y: int
    value_x: int

    @property
    def count_label(self) -> str:
        return f"{self.count:,} connection{'' if self.count == 1 else 's'}"


@dataclass(frozen=True)
class AdoptionChart:
    bars: list[Bar]
    total: int
    width: int = WIDTH
    height: int = 0
    label_width: int = LABEL_WIDTH
    track_width: int = WIDTH - LABEL_WIDTH - VALUE_WIDTH
    bar_height: int = BAR_HEIGHT
    # (version, connections it last served), when that differs from what serves them now.
    last_served: list[tuple[str, int]] = field(default_factory=list)

    @property
    def label_x(self) -> int:
        return self.label_width - 8

    @property
    def summary(self) -> str:
        """The chart as one sentence (its accessible description)."""
        if not self.bars:
            return "No connections yet."
        parts = [f"{b.version}: {b.count_label} ({b.percent})" for b in self.bars]
        total = f"{self.total:,} connection{'' if self.total == 1 else 's'}"
        return f"{total} in all. " + "; ".join(parts) + "."


def percent_label(count: int, total: int) -> str:
    """One decimal, without a trailing ".0": 66.7%, 50%, 0.1%; never "0%" for a non-zero count."""
    if total <= 0:
        return "0%"
    value = 100 * count / total
    if 0 < value < 0.1:
        return "<0.1%"
    text = f"{value:.1f}".removesuffix(".0")
    return f"{text}%"


def adoption_chart(rows: Sequence[tuple[str, int, int]]) -> AdoptionChart:
    """Bars for ``[(version, serving now, last served), ...]`` (``selectors.adoption``:
    highest version first), scaled to the largest count now; where what last served the
    connections differs, ``last_served`` lists it as a second figure."""
    shown = [(version, now) for version, now, _last in rows if now > 0]
    total = sum(count for _version, count in shown)
    track = WIDTH - LABEL_WIDTH - VALUE_WIDTH
    largest = max((count for _version, count in shown), default=0)
    bars = []
    for index, (version, count) in enumerate(shown):
        y = PADDING + index * (BAR_HEIGHT + GAP)
        length = max(2.0, round(track * count / largest, 1)) if largest else 0.0
        bars.append(
            Bar(
                version=version,
                count=count,
                percent=percent_label(count, total),
                y=y,
                width=length,
                text_y=y + BAR_HEIGHT // 2 + 5,
                value_x=LABEL_WIDTH + track + 8,  # one column after the tracks
            )
        )
    height = PADDING * 2 + len(bars) * (BAR_HEIGHT + GAP) - (GAP if bars else 0)
    differs = any(now != last for _version, now, last in rows)
    last_served = [(version, last) for version, _now, last in rows if last > 0] if differs else []
    return AdoptionChart(bars=bars, total=total, height=height, last_served=last_served)


DAY_WIDTH = 40  # one day's slot: its bar and the gap after it
DAY_BAR = 28
DAY_TOP = 18  # room for the tallest bar's count
DAY_TRACK = 100  # the tallest bar
DAY_BOTTOM = 22  # room for the day labels
DAY_LABEL_EVERY = 4  # days between two labels (40 units each: a label has 160 units of room)


@dataclass(frozen=True)
class DayBar:
    day: date
    count: int
    x: int
    y: float
    height: float  # at least 2 for a non-zero count, 0 for none
    center_x: int
    count_y: float
    labelled: bool = False  # every fourth day, counted back from today, carries its date

    @property
    def day_label(self) -> str:
        return f"{self.day:%b} {self.day.day}"


@dataclass(frozen=True)
class DailyChart:
    bars: list[DayBar]
    total: int
    width: int
    height: int = DAY_TOP + DAY_TRACK + DAY_BOTTOM
    base_y: int = DAY_TOP + DAY_TRACK
    label_y: int = DAY_TOP + DAY_TRACK + 16
    bar_width: int = DAY_BAR

    @property
    def summary(self) -> str:
        """The chart as one sentence (its accessible description)."""
        if not self.bars:
            return "None."
        first, last = self.bars[0].day.isoformat(), self.bars[-1].day.isoformat()
        days = "; ".join(f"{b.day.isoformat()}: {b.count:,}" for b in self.bars if b.count)
        return f"{self.total:,} from {first} to {last}. {days}."


def daily_chart(rows: list[tuple[date, int]]) -> DailyChart:
    """Bars for ``[(day, count), ...]`` oldest first, scaled to the largest count."""
    largest = max((count for _day, count in rows), default=0)
    bars = []
    for index, (day, count) in enumerate(rows):
        height = max(2.0, round(DAY_TRACK * count / largest, 1)) if count else 0.0
        x = index * DAY_WIDTH + (DAY_WIDTH - DAY_BAR) // 2
        y = DAY_TOP + DAY_TRACK - height
        bars.append(
            DayBar(
                day=day,
                count=count,
                x=x,
                y=y,
                height=height,
                center_x=x + DAY_BAR // 2,
                count_y=y - 4,
                labelled=(len(rows) - 1 - index) % DAY_LABEL_EVERY == 0,
            )
        )
    total = sum(count for _day, count in rows)
    return DailyChart(bars=bars, total=total, width=max(1, len(rows)) * DAY_WIDTH)
