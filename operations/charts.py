"""Charts drawn on the server as SVG: trends as lines, rates as bars.

No script and no external library; every chart is shown beside the table of
its numbers, and carries a title and a description for screen readers.
"""

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

# Colour-blind-safe (Okabe-Ito).
COLOURS = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00"]
WIDTH, HEIGHT, PAD = 640, 220, 36


def _scale(peak: float) -> float:
    """Return a round top for the axis at or above the peak."""
    if peak <= 0:
        return 1
    step = 10 ** (len(str(int(peak))) - 1)
    return ((int(peak) // step) + 1) * step


def line_chart(
    *, title: str, labels: list[str], series: dict[str, list[int]]
) -> SafeString:
    """Return an SVG line per series over the labels (time, left to right)."""
    top = _scale(max((max(v) for v in series.values() if v), default=0))
    n = max(len(labels), 2)
    x = [PAD + i * (WIDTH - 2 * PAD) / (n - 1) for i in range(n)]

    def y(value: float) -> float:
        return HEIGHT - PAD - value * (HEIGHT - 2 * PAD) / top

    lines = format_html_join(
        "",
        '<polyline fill="none" stroke="{}" stroke-width="2" points="{}">'
        "<title>{}</title></polyline>",
        (
            (
                COLOURS[i % len(COLOURS)],
                " ".join(f"{x[j]:.1f},{y(v):.1f}" for j, v in enumerate(values)),
                name,
            )
            for i, (name, values) in enumerate(series.items())
        ),
    )
    legend = format_html_join(
        "",
        '<g><rect x="{}" y="6" width="10" height="10" fill="{}"></rect>'
        '<text x="{}" y="15">{}</text></g>',
        (
            (PAD + i * 110, COLOURS[i % len(COLOURS)], PAD + i * 110 + 14, name)
            for i, name in enumerate(series)
        ),
    )
    ticks = format_html_join(
        "",
        '<text x="{}" y="{}" text-anchor="middle">{}</text>',
        (
            (f"{x[j]:.1f}", HEIGHT - PAD + 16, label)
            for j, label in enumerate(labels)
            if j % max(1, len(labels) // 6) == 0
        ),
    )
    return format_html(
        '<svg class="chart" viewBox="0 0 {w} {h}" role="img" direction="ltr" '
        'aria-label="{title}"><title>{title}</title>'
        '<line x1="{p}" y1="{base}" x2="{right}" y2="{base}" stroke="#888"></line>'
        '<text x="4" y="{topy}">{top}</text><text x="4" y="{base}">0</text>'
        "{lines}{legend}{ticks}</svg>",
        w=WIDTH,
        h=HEIGHT,
        title=title,
        p=PAD,
        base=HEIGHT - PAD,
        right=WIDTH - PAD,
        topy=PAD,
        top=top,
        lines=lines,
        legend=legend,
        ticks=ticks,
    )


def bar_chart(
    *, title: str, bars: list[tuple[str, float | None, float | None]]
) -> SafeString:
    """Return horizontal bars of percentages: this period, and the previous one."""
    row = 34
    height = PAD + row * len(bars)
    width = WIDTH - 230
    top = _scale(max([1.0] + [v or 0 for _n, now, was in bars for v in (now, was)]))

    def length(value: float | None) -> str:
        return f"{(value or 0) * width / top:.1f}"

    items = format_html_join(
        "",
        '<text x="4" y="{}">{}</text>'
        '<rect x="150" y="{}" width="{}" height="12" fill="{}">'
        "<title>{}: {}</title></rect>"
        '<rect x="150" y="{}" width="{}" height="6" fill="#999">'
        "<title>{}</title></rect>"
        '<text x="{}" y="{}">{}</text>',
        (
            (
                PAD + i * row + 10,
                name,
                PAD + i * row,
                length(now),
                COLOURS[i % len(COLOURS)],
                name,
                "–" if now is None else f"{now}%",
                PAD + i * row + 14,
                length(was),
                "–" if was is None else f"{was}%",
                f"{158 + float(length(now)):.1f}",
                PAD + i * row + 10,
                "–" if now is None else f"{now}%",
            )
            for i, (name, now, was) in enumerate(bars)
        ),
    )
    return format_html(
        '<svg class="chart" viewBox="0 0 {w} {h}" role="img" direction="ltr" '
        'aria-label="{title}"><title>{title}</title>{items}</svg>',
        w=WIDTH,
        h=height,
        title=title,
        items=items,
    )
