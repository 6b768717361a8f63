"""Charts drawn as inline SVG on the server, so the HTML export and the PDF show the same picture."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

ACTUAL_COLOUR = "#1f5f8b"
EXPECTED_COLOUR = "#f0a848"
FONT = "'Noto Sans CJK SC', 'Noto Sans SC', 'Microsoft YaHei', sans-serif"


@dataclass(frozen=True)
class Bars:
    """One rep's pair of bars."""

    label: str
    actual: float
    expected: float


def _ticks(top: float) -> list[float]:
    """About five round steps from 0 to at least ``top``."""
    if top <= 0:
        return [0.0, 1.0]
    raw = top / 5
    magnitude = 10 ** (len(str(int(raw))) - 1) if raw >= 1 else 1
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    count = int(-(-top // step))
    return [float(step * i) for i in range(count + 1)]


def actual_vs_expected(rows: Sequence[Bars], *, title: str, actual_label: str, expected_label: str,
                       width: int = 680) -> str:
    """Horizontal bars per rep: leads received beside leads expected under the policy."""
    left, right, row_h, top = 150, 30, 34, 56
    height = top + row_h * max(len(rows), 1) + 40
    ticks = _ticks(max([0.0, *[max(r.actual, r.expected) for r in rows]]))
    scale = (width - left - right) / ticks[-1]
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}" font-family="{FONT}">',
             f'<text x="{left}" y="20" font-size="14" font-weight="bold">{escape(title)}</text>',
             *_legend(left, actual_label, expected_label)]
    bottom = top + row_h * max(len(rows), 1)
    for tick in ticks:
        x = left + tick * scale
        parts.append(f'<line x1="{x:.1f}" y1="{top - 4}" x2="{x:.1f}" y2="{bottom}" stroke="#ddd"/>')
        parts.append(f'<text x="{x:.1f}" y="{bottom + 16}" font-size="11" text-anchor="middle">{tick:g}</text>')
    for i, row in enumerate(rows):
        parts.extend(_row(row, left, top + i * row_h, scale))
    parts.append("</svg>")
    return "".join(parts)


def _legend(left: int, actual_label: str, expected_label: str) -> list[str]:
    return [f'<rect x="{left}" y="30" width="12" height="12" fill="{ACTUAL_COLOUR}"/>',
            f'<text x="{left + 16}" y="40" font-size="12">{escape(actual_label)}</text>',
            f'<rect x="{left + 150}" y="30" width="12" height="12" fill="{EXPECTED_COLOUR}"/>',
            f'<text x="{left + 166}" y="40" font-size="12">{escape(expected_label)}</text>']


def _row(row: Bars, left: int, y: int, scale: float) -> list[str]:
    actual_w, expected_w = row.actual * scale, row.expected * scale
    return [f'<text x="{left - 8}" y="{y + 19}" font-size="12" text-anchor="end">{escape(row.label)}</text>',
            f'<rect x="{left}" y="{y + 4}" width="{actual_w:.1f}" height="12" fill="{ACTUAL_COLOUR}">'
            f'<title>{escape(row.label)}: {row.actual:g}</title></rect>',
            f'<rect x="{left}" y="{y + 17}" width="{expected_w:.1f}" height="12" fill="{EXPECTED_COLOUR}">'
            f'<title>{escape(row.label)}: {row.expected:.1f}</title></rect>',
            f'<text x="{left + actual_w + 4:.1f}" y="{y + 14}" font-size="10">{row.actual:g}</text>',
            f'<text x="{left + expected_w + 4:.1f}" y="{y + 27}" font-size="10">{row.expected:.1f}</text>']
