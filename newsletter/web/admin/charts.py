"""The desk's charts: pygal's server-side SVG, each served as an answer of its own and
shown with <img> (the page next to it carries the numbers as a table).

Why an image of its own: pygal writes its styles inline in the SVG (a <style> element),
which the site's policy forbids in a page. An SVG answer carries its own, narrower policy
(`CHART_HEADERS`: no script, no connection, no image or font from anywhere, only its own
inline styles), and the route's header wins over the site's (`web.security`). pygal also
writes its settings into an inline <script> for its optional tooltips: the charts use no
script (`js=[]`), and `_without_scripts` takes that element out, so nothing in the answer
could run even where a policy is not enforced.

Light and dark: an SVG shown by <img> follows the reader's colour scheme through its own
media query, so the text and the guide lines switch with the page; the background is
transparent and the series colours are mid-tones that read on both.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final
from xml.etree.ElementTree import Element

import pygal
from fastapi.responses import Response
from pygal.style import Style

from newsletter.analytics.hourly import HourlyActivity
from newsletter.web.security import CSP, policy
from subscribers.service import WeekGrowth

CHART_POLICY: Final = policy(
    default_src="'none'",
    style_src="'unsafe-inline'",
    base_uri="'none'",
    form_action="'none'",
    frame_ancestors="'none'",
)
CHART_HEADERS: Final = {CSP: CHART_POLICY, "Cache-Control": "private, no-store"}
SVG: Final = "image/svg+xml"

SERIES: Final = ("#2563eb", "#059669", "#d97706", "#dc2626", "#7c3aed")
"""Blue, green, amber, red, violet: 600-weight tones, legible on white and on near-black."""

STYLE: Final = Style(
    background="transparent",
    plot_background="transparent",
    foreground="#6b7280",
    foreground_strong="#374151",
    foreground_subtle="#9ca3af",
    opacity=".85",
    opacity_hover=".95",
    colors=SERIES,
    font_family="Helvetica, Arial, sans-serif",
    label_font_size=13,
    major_label_font_size=13,
    legend_font_size=14,
    title_font_size=16,
)

DARK: Final = (
    "inline:@media (prefers-color-scheme: dark) {"
    " .pygal-chart text { fill: #cbd5e1 !important; }"
    " .pygal-chart .title { fill: #f3f4f6 !important; }"
    " .pygal-chart .axis .guides .line, .pygal-chart .axis .line"
    " { stroke: #475569 !important; } }"
)


def _without_scripts(root: Element) -> Element:
    """The SVG tree without any <script> element (pygal writes its settings in one)."""
    for parent in root.iter():
        for child in list(parent):
            if str(child.tag).endswith("script"):
                parent.remove(child)
    return root


def _chart(kind: type[Any], title: str, **config: Any) -> Any:
    chart = kind(
        title=title,
        style=STYLE,
        js=[],
        css=["file://style.css", "file://graph.css", DARK],  # pygal's own, then ours
        width=880,
        height=360,
        legend_at_bottom=True,
        legend_at_bottom_columns=5,
        print_values=False,
        truncate_legend=-1,
        truncate_label=-1,
        margin=12,
        **config,
    )
    chart.add_xml_filter(_without_scripts)
    return chart


def _render(chart: Any) -> str:
    svg: str = chart.render(is_unicode=True)
    return svg


def growth_svg(growth: Sequence[WeekGrowth]) -> str:
    """New, confirmed, unsubscribed, bounced and complained subscribers per ISO week."""
    chart = _chart(pygal.Bar, "Subscribers per week")
    chart.x_labels = [g.week.split("-")[1] for g in growth]
    chart.add("new", [g.new for g in growth])
    chart.add("confirmed", [g.confirmed for g in growth])
    chart.add("unsubscribed", [g.unsubscribed for g in growth])
    chart.add("bounced", [g.bounced for g in growth])
    chart.add("complained", [g.complained for g in growth])
    return _render(chart)


def activity_svg(hourly: HourlyActivity) -> str:
    """First opens and first clicks per hour since the send started."""
    chart = _chart(
        pygal.Line,
        "First opens and clicks per hour",
        fill=False,
        dots_size=2,
        show_minor_x_labels=False,  # every sixth hour is labelled
    )
    chart.x_labels = [str(h.hour) for h in hourly.hours]
    chart.x_labels_major = [str(h.hour) for h in hourly.hours if h.hour % 6 == 0]
    chart.x_title = "hours since the send started (UTC clock hours)"
    chart.add("first opens", [h.opens for h in hourly.hours])
    chart.add("first clicks", [h.clicks for h in hourly.hours])
    return _render(chart)


def svg_answer(svg: str) -> Response:
    """A chart as its own answer, with the chart's own policy."""
    return Response(content=svg, media_type=SVG, headers=CHART_HEADERS)
