"""Server-rendered SVG charts of the scorecard (no script, no external asset): rendered through the
autoescaping template engine, so department names are escaped like any other text."""

from __future__ import annotations

from typing import Any

from jinja2 import Environment, select_autoescape
from markupsafe import Markup

_ENV = Environment(autoescape=select_autoescape(default=True, default_for_string=True))
_CHART = _ENV.from_string(
    """<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-labelledby="chart-title" width="{{ width }}"
 height="{{ height }}" viewBox="0 0 {{ width }} {{ height }}" class="chart">
<title id="chart-title">各部门时限达标率（公示、异议、修复、反馈）</title>
{% for s in series %}<rect x="{{ 170 + loop.index0 * 150 }}" y="6" width="12" height="12" fill="{{ s.color }}"/>
<text x="{{ 186 + loop.index0 * 150 }}" y="17" font-size="12">{{ s.label }}</text>{% endfor %}
{% for row in rows %}{% set y = 34 + loop.index0 * band %}
<text x="4" y="{{ y + band / 2 }}" font-size="13">{{ row.name }}</text>
{% for bar in row.bars %}{% set by = y + loop.index0 * 9 %}
<rect x="170" y="{{ by }}" width="{{ bar.width }}" height="8" fill="{{ bar.color }}">
<title>{{ row.name }} {{ bar.label }}：{{ bar.text }}</title></rect>
<text x="{{ 174 + bar.width }}" y="{{ by + 8 }}" font-size="9">{{ bar.text }}</text>
{% endfor %}{% endfor %}
</svg>"""
)
SERIES = (
    ("disclosures", "met_rate", "公示按时", "#2f6fb0"),
    ("objections", "on_time_rate", "异议按时", "#d98c1f"),
    ("repairs", "on_time_rate", "修复按时", "#3b9a57"),
    ("feedback", "completeness", "反馈完整", "#8a4fb0"),
)
SCALE = 400


def _rate(row: dict[str, Any], part: str, key: str) -> float | None:
    deadlines = row.get("deadlines", {})
    source = deadlines.get(part, {}) if part != "feedback" else row.get("feedback", {})
    value = source.get(key) if isinstance(source, dict) else None
    return float(value) if isinstance(value, int | float) else None


def deadlines_met(rows: list[dict[str, Any]]) -> Markup:
    """Grouped horizontal bars: per department, the share of deadlines met in each part (no data: 无)."""
    band = 9 * len(SERIES) + 10
    shown = []
    for row in rows:
        bars = []
        for part, key, label, color in SERIES:
            value = _rate(row, part, key)
            text = "无应办" if value is None else f"{value * 100:.0f}%"
            bars.append(
                {"width": 0 if value is None else round(value * SCALE), "color": color, "label": label, "text": text}
            )
        shown.append({"name": row["name"], "bars": bars})
    series = [{"label": label, "color": color} for _, _, label, color in SERIES]
    height = 40 + band * max(1, len(rows))
    return Markup(_CHART.render(rows=shown, series=series, band=band, width=170 + SCALE + 60, height=height))  # noqa: S704
