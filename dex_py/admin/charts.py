"""Small charts drawn on the server as inline SVG (no JavaScript, no image requests, fits the
CSP): bars of successes and failures per time bucket. Colours come from the theme's CSS
(``.bar-ok``, ``.bar-bad`` in ``static/admin.css``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

WIDTH = 480
HEIGHT = 120
_TOP = 8
_BOTTOM = 18  # room for the labels under the axis
_LEFT = 26  # room for the scale


@dataclass(frozen=True)
class Bucket:
    label: str  # shown under every few bars ("14:00")
    ok: int
    bad: int


def stacked_bars(buckets: Sequence[Bucket], *, title: str, label_every: int = 6) -> Markup:
    """An SVG of one stacked bar per bucket (successes below, failures on top)."""
    count = max(len(buckets), 1)
    peak = max((b.ok + b.bad for b in buckets), default=0) or 1
    plot_h = HEIGHT - _TOP - _BOTTOM
    slot = (WIDTH - _LEFT) / count
    bar_w = max(slot * 0.7, 1.0)
    total_ok = sum(b.ok for b in buckets)
    total_bad = sum(b.bad for b in buckets)
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{escape(title)}: {total_ok} successful, {total_bad} failed">',
        f"<title>{escape(title)}</title>",
        f'<line class="axis" x1="{_LEFT}" y1="{HEIGHT - _BOTTOM}" x2="{WIDTH}" '
        f'y2="{HEIGHT - _BOTTOM}"/>',
        f'<text x="{_LEFT - 4}" y="{_TOP + 8}" text-anchor="end">{peak}</text>',
        f'<text x="{_LEFT - 4}" y="{HEIGHT - _BOTTOM}" text-anchor="end">0</text>',
    ]
    for i, b in enumerate(buckets):
        x = _LEFT + i * slot + (slot - bar_w) / 2
        ok_h = plot_h * b.ok / peak
        bad_h = plot_h * b.bad / peak
        base = HEIGHT - _BOTTOM
        tip = f"{escape(b.label)}: {b.ok} ok, {b.bad} failed"
        if b.ok:
            parts.append(
                f'<rect class="bar-ok" x="{x:.1f}" y="{base - ok_h:.1f}" width="{bar_w:.1f}" '
                f'height="{ok_h:.1f}"><title>{tip}</title></rect>'
            )
        if b.bad:
            parts.append(
                f'<rect class="bar-bad" x="{x:.1f}" y="{base - ok_h - bad_h:.1f}" '
                f'width="{bar_w:.1f}" height="{bad_h:.1f}"><title>{tip}</title></rect>'
            )
        if label_every and i % label_every == 0:
            parts.append(
                f'<text x="{x + bar_w / 2:.1f}" y="{HEIGHT - 4}" text-anchor="middle">'
                f"{escape(b.label)}</text>"
            )
    parts.append("</svg>")
    # every text part above went through escape(); numbers are formatted by us
    return Markup("".join(parts))  # noqa: S704
