"""Geometry of a migration's charts, computed here so that templates only place ready
numbers into inline SVG (no script, no CDN, no inline styles: the CSP forbids them).

- ``progress_bar``: the Migrations page's bar (migrated / total).
- ``progress_chart``: the migration page's area chart of migrated accounts over time
  (cumulative, from ``migration_selectors.daily_migrated``), scaled to every account of
  the migration (pending + migrated), so the top of the chart is "everyone moved".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

WIDTH = 640
HEIGHT = 190
LEFT = 52  # room for the y-axis labels
RIGHT = 16
TOP = 14
BOTTOM = 30  # room for the date labels


@dataclass(frozen=True)
class Tick:
    position: float  # x for date labels, y for count labels
    label: str
    anchor: str = "middle"


@dataclass(frozen=True)
class ChartPoint:
    day: date
    migrated: int
    x: float
    y: float

    @property
    def day_label(self) -> str:
        return self.day.isoformat()


@dataclass(frozen=True)
class ProgressChart:
    points: list[ChartPoint]
    total: int  # every account of the migration: the top of the y axis
    line: str  # the polyline's points attribute
    area: str  # the filled polygon's points attribute
    y_ticks: list[Tick]
    x_ticks: list[Tick]
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    right_x: int = WIDTH - RIGHT
    top: int = TOP
    base_y: int = HEIGHT - BOTTOM
    label_y: int = HEIGHT - 10

    @property
    def last(self) -> int:
        return self.points[-1].migrated if self.points else 0

    @property
    def summary(self) -> str:
        """The chart as one sentence (its accessible description)."""
        if not self.points:
            return "No data yet."
        first, last = self.points[0], self.points[-1]
        accounts = f"{self.total:,} account{'' if self.total == 1 else 's'}"
        if first.day == last.day:
            return f"{last.migrated:,} of {accounts} migrated on {last.day_label}."
        return (
            f"{last.migrated:,} of {accounts} migrated between {first.day_label} "
            f"and {last.day_label}."
        )


def _fmt(value: float) -> str:
    return f"{value:.1f}".removesuffix(".0")


def progress_chart(days: list[tuple[date, int]], total: int) -> ProgressChart:
    """An area chart for ``[(day, cumulative migrated), ...]``; ``total`` is pending +
    migrated now (the y axis runs from 0 to the larger of it and the highest point)."""
    top_value = max([total, 1, *(n for _d, n in days)])
    plot_w = WIDTH - LEFT - RIGHT
    plot_h = HEIGHT - TOP - BOTTOM
    base = HEIGHT - BOTTOM

    def y_of(value: int) -> float:
        return round(base - plot_h * value / top_value, 1)

    points: list[ChartPoint] = []
    span = len(days) - 1
    for index, (day, migrated) in enumerate(days):
        x = LEFT + (plot_w * index / span if span else 0.0)
        points.append(ChartPoint(day, migrated, round(x, 1), y_of(migrated)))
    # One day of data: a flat line across the whole width (the level reached so far).
    drawn = [(p.x, p.y) for p in points]
    if len(drawn) == 1:
        drawn.append((float(LEFT + plot_w), drawn[0][1]))
    line = " ".join(f"{_fmt(x)},{_fmt(y)}" for x, y in drawn)
    area = ""
    if drawn:
        area = f"{_fmt(drawn[0][0])},{base} {line} {_fmt(drawn[-1][0])},{base}"
    halves = sorted({0, top_value // 2, top_value}) if top_value > 1 else [0, top_value]
    y_ticks = [Tick(y_of(v), f"{v:,}", "end") for v in halves]
    x_ticks: list[Tick] = []
    if points:
        x_ticks.append(Tick(points[0].x, points[0].day.strftime("%b %d"), "start"))
        if len(points) >= 5:
            middle = points[len(points) // 2]
            x_ticks.append(Tick(middle.x, middle.day.strftime("%b %d")))
        if len(points) > 1:
            x_ticks.append(Tick(points[-1].x, points[-1].day.strftime("%b %d"), "end"))
    return ProgressChart(
        points=points,
        total=total,
        line=line,
        area=area,
        y_ticks=y_ticks,
        x_ticks=x_ticks,
    )


@dataclass(frozen=True)
class ProgressBar:
    """A progress bar drawn as SVG in a ``viewBox`` of 100 × 1 (the fill's width is the
    percentage): no style attribute needed."""

    migrated: int
    total: int
    percent: float

    @property
    def fill_width(self) -> str:
        return _fmt(max(0.0, min(100.0, self.percent)))

    @property
    def percent_label(self) -> str:
        return f"{_fmt(self.percent)}%"

    @property
    def label(self) -> str:
        return f"{self.migrated:,} of {self.total:,} migrated ({self.percent_label})"


def progress_bar(migrated: int, total: int, percent: float) -> ProgressBar:
    return ProgressBar(migrated, total, percent)
