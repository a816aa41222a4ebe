"""Line plots as inline SVG, drawn on the server: no JavaScript, no image files, text escaped."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

__all__ = ["line_svg"]


def line_svg(
    xs: Sequence[float],
    ys: Sequence[float | None],
    *,
    title: str,
    width: int = 420,
    height: int = 200,
    color: str = "#2563eb",
) -> str:
    """An SVG line plot of ``ys`` over ``xs`` (None values are skipped), with axis labels."""
    points = [(x, y) for x, y in zip(xs, ys, strict=True) if y is not None]
    left, right, top, bottom = 48, 12, 24, 28
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="plot" role="img" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}"><title>{escape(title)}</title>'
        f'<text x="{left}" y="16" class="plot-title">{escape(title)}</text>'
    )
    if not points:
        return head + f'<text x="{left}" y="{height // 2}">no data</text></svg>'
    x0, x1 = min(p[0] for p in points), max(p[0] for p in points)
    y0, y1 = min(p[1] for p in points), max(p[1] for p in points)
    if y1 == y0:
        y0, y1 = y0 - 0.5, y1 + 0.5
    x1 = x1 if x1 != x0 else x0 + 1
    w, h = width - left - right, height - top - bottom

    def sx(x: float) -> float:
        return left + (x - x0) / (x1 - x0) * w

    def sy(y: float) -> float:
        return top + (1 - (y - y0) / (y1 - y0)) * h

    path = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in points)
    dots = "".join(
        f'<circle cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="2.5" fill="{color}"/>' for x, y in points
    )
    axes = (
        f'<line x1="{left}" y1="{top + h}" x2="{left + w}" y2="{top + h}" stroke="#999"/>'
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + h}" stroke="#999"/>'
        f'<text x="{left - 4}" y="{top + 4}" text-anchor="end">{_num(y1)}</text>'
        f'<text x="{left - 4}" y="{top + h}" text-anchor="end">{_num(y0)}</text>'
        f'<text x="{left}" y="{height - 8}">{_num(x0)}</text>'
        f'<text x="{left + w}" y="{height - 8}" text-anchor="end">step {_num(x1)}</text>'
    )
    line = f'<polyline fill="none" stroke="{color}" stroke-width="2" points="{path}"/>'
    return head + axes + line + dots + "</svg>"


def _num(value: float) -> str:
    return f"{value:.3g}"
