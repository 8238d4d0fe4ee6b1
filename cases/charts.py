"""The lesion page's trend chart, drawn on the server as SVG coordinates (no script, no
charting library): P(MEL) and P(BCC) in % on the left axis, the lesion's area as a share of the
first visit's (scale-corrected through the aligned comparisons) on the right axis, one point per
image at its visit date."""

from __future__ import annotations

from dataclasses import dataclass, field

WIDTH, HEIGHT = 640, 240
LEFT, RIGHT, TOP, BOTTOM = 48, 56, 16, 40


@dataclass(frozen=True)
class Series:
    name: str
    css_class: str
    points: list[tuple[float, float, str]] = field(default_factory=list)  # x, y, label

    @property
    def polyline(self) -> str:
        return " ".join(f"{x:.1f},{y:.1f}" for x, y, _ in self.points)


@dataclass(frozen=True)
class TrendChart:
    width: int
    height: int
    series: list[Series]
    x_ticks: list[tuple[float, str]]
    y_ticks: list[tuple[float, str]]
    area_ticks: list[tuple[float, str]]
    risk_points: list[tuple[float, str, str]]  # x, risk level, label
    plot_left: int = LEFT
    plot_right: int = WIDTH - RIGHT
    plot_top: int = TOP
    plot_bottom: int = HEIGHT - BOTTOM

    @property
    def empty(self) -> bool:
        return not any(series.points for series in self.series)


def trend_chart(points: list[dict]) -> TrendChart:
    """Coordinates for ``tracking.selectors.lesion_trend`` points."""
    plot_width, plot_height = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    days = [point["captured_on"].toordinal() for point in points]
    first, last = (min(days), max(days)) if days else (0, 0)
    span = max(last - first, 1)

    def x_of(day: int) -> float:
        return LEFT + (plot_width / 2 if last == first else (day - first) / span * plot_width)

    def y_of(fraction: float) -> float:
        return TOP + (1 - fraction) * plot_height

    mel, bcc, area = Series("P(melanoma)", "trend-mel"), Series("P(BCC)", "trend-bcc"), Series("Area", "trend-area")
    areas = [point["area_relative"] for point in points if point["area_relative"]]
    area_top = max(1.25, max(areas) * 1.1) if areas else None
    risk_points = []
    for point, day in zip(points, days, strict=True):
        x = x_of(day)
        date = point["captured_on"].strftime("%d %b %Y")
        if point["probability_mel"] is not None:
            mel.points.append(
                (x, y_of(point["probability_mel"]), f"{date}: P(melanoma) {point['probability_mel']:.0%}")
            )
        if point["probability_bcc"] is not None:
            bcc.points.append((x, y_of(point["probability_bcc"]), f"{date}: P(BCC) {point['probability_bcc']:.0%}"))
        if point["area_relative"] and area_top:
            size = f" ({point['area_mm2']:.1f} mm²)" if point["area_mm2"] is not None else ""
            label = f"{date}: area {point['area_relative']:.0%} of the first visit{size}"
            area.points.append((x, y_of(point["area_relative"] / area_top), label))
        if point["risk_level"]:
            risk_points.append((x, point["risk_level"], f"{date}: {point['risk_level']} risk"))
    x_ticks = []
    for point, day in zip(points, days, strict=True):
        label = point["captured_on"].strftime("%d %b %y")
        if not x_ticks or abs(x_ticks[-1][0] - x_of(day)) > 40:
            x_ticks.append((x_of(day), label))
    y_ticks = [(y_of(value / 100), f"{value} %") for value in (0, 25, 50, 75, 100)]
    area_ticks = [(y_of(value / area_top), f"{value:.0%}") for value in (0.0, 0.5, 1.0)] if area_top else []
    return TrendChart(
        width=WIDTH,
        height=HEIGHT,
        series=[mel, bcc, area],
        x_ticks=x_ticks,
        y_ticks=y_ticks,
        area_ticks=area_ticks,
        risk_points=risk_points,
    )
