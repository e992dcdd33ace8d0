"""A self-contained HTML report of a scan: one file, inline CSS, inline SVG plots, no external resources.

Each scanned file gets a card with its verdict, its ``fake_probability`` and a plot of its waveform envelope
with the per-window ``fake_probability`` timeline drawn over it, so a reader sees *where* in the file the
model found evidence, not only the final number. Every piece of text from inputs (paths, error reasons) is
HTML-escaped: file names are attacker-controlled in a scan of untrusted media.
"""

from __future__ import annotations

import math
import warnings
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from html import escape
from pathlib import Path

import numpy as np

from unmask.detect.result import VERDICTS, ScanResult, Thresholds
from unmask.errors import UnmaskError
from unmask.io import MediaLimits, iter_chunks
from unmask.report.writers import atomic_text_file

ENVELOPE_COLUMNS = 400
ENVELOPE_RATE = 4000  # Hz: enough to show speech's loudness contour; decoding at 16 kHz would be 4x the work

# Plot geometry, in SVG user units; the SVG scales to the card width (viewBox), so these are proportions.
_W, _H = 800, 240
_LEFT, _RIGHT, _TOP, _BOTTOM = 56, 10, 10, 34
_PLOT_W = _W - _LEFT - _RIGHT
_PLOT_H = _H - _TOP - _BOTTOM

_VERDICT_COLOURS = {"real": "#1b7f3b", "uncertain": "#a86400", "fake": "#c0262d", "error": "#5b6470"}


@dataclass(frozen=True)
class Envelope:
    """Minimum and maximum sample per plot column over ``duration_s`` seconds of audio."""

    mins: np.ndarray
    maxs: np.ndarray
    duration_s: float


def waveform_envelope(
    path: str | Path,
    duration_s: float,
    *,
    columns: int = ENVELOPE_COLUMNS,
    sample_rate: int = ENVELOPE_RATE,
    limits: MediaLimits | None = None,
) -> Envelope | None:
    """Min/max per column of the decoded audio, streamed in chunks so long files use constant memory.

    Returns None when the file cannot be decoded (the report then shows the timeline without a waveform);
    the scan itself already reported any damage, so decoder warnings are not repeated here.
    """
    if not duration_s or duration_s <= 0 or not math.isfinite(duration_s):
        return None
    mins = np.full(columns, np.inf, dtype=np.float32)
    maxs = np.full(columns, -np.inf, dtype=np.float32)
    samples_per_column = duration_s * sample_rate / columns
    position = 0
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for chunk in iter_chunks(path, sample_rate, chunk_s=10.0, limits=limits):
                index = np.minimum(
                    ((position + np.arange(len(chunk))) / samples_per_column).astype(np.int64), columns - 1
                )
                starts = np.flatnonzero(np.r_[True, np.diff(index) != 0])
                cols = index[starts]
                mins[cols] = np.minimum(mins[cols], np.minimum.reduceat(chunk, starts))
                maxs[cols] = np.maximum(maxs[cols], np.maximum.reduceat(chunk, starts))
                position += len(chunk)
    except (UnmaskError, ValueError, OSError):
        return None
    if position == 0:
        return None
    empty = ~np.isfinite(mins)  # columns past the decoded end (a header that over-stated the duration)
    mins[empty], maxs[empty] = 0.0, 0.0
    return Envelope(mins, maxs, duration_s)


# --------------------------------------------------------------------------------------------- SVG plot
def _x(seconds: float, duration_s: float) -> float:
    return _LEFT + _PLOT_W * min(max(seconds / duration_s, 0.0), 1.0)


def _y(probability: float) -> float:
    return _TOP + _PLOT_H * (1.0 - probability)


def _tick_step(duration_s: float, max_ticks: int = 8) -> float:
    for step in (0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600):
        if duration_s / step <= max_ticks:
            return float(step)
    return 3600.0 * math.ceil(duration_s / 3600.0 / max_ticks)


def format_seconds(seconds: float) -> str:
    """``4.5 s``, ``1:05``, ``1:02:03``: short enough for an axis label."""
    if seconds < 60:
        return f"{seconds:g} s" if seconds == int(seconds) else f"{seconds:.1f} s"
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def render_timeline_svg(result: ScanResult, thresholds: Thresholds, envelope: Envelope | None) -> str:
    """The waveform envelope with the window timeline over it, as an inline ``<svg>`` element."""
    duration = result.duration_s or max((w.end_s for w in result.timeline), default=0.0) or 1.0
    fake_at, real_below = thresholds.fake_at_or_above, thresholds.real_below
    parts = [
        f'<svg viewBox="0 0 {_W} {_H}" role="img" class="plot" '
        f'aria-label="{escape(_plot_label(result, thresholds))}">',
        f'<rect x="{_LEFT}" y="{_TOP}" width="{_PLOT_W}" height="{_PLOT_H}" class="bg"/>',
    ]
    # Windows at or above the fake threshold are shaded across the full height: where to listen first.
    for start_s, end_s in suspicious_spans(result, fake_at):
        x0, x1 = _x(start_s, duration), _x(end_s, duration)
        parts.append(
            f'<rect x="{x0:.1f}" y="{_TOP}" width="{max(x1 - x0, 1.0):.1f}" height="{_PLOT_H}" class="hot"/>'
        )
    if envelope is not None:
        parts.append(_envelope_path(envelope, duration))
    for p in (0.0, 0.5, 1.0):
        parts.append(_hline(_y(p), "grid"))
        parts.append(f'<text x="{_LEFT - 5}" y="{_y(p) + 4:.1f}" class="ylab">{p:g}</text>')
    parts += [
        _hline(_y(fake_at), "thr-fake"),
        f'<text x="{_W - _RIGHT - 4}" y="{_y(fake_at) - 4:.1f}" class="thr-lab lab-fake">'
        f"fake \u2265 {_threshold(fake_at)}</text>",
        _hline(_y(real_below), "thr-real"),
        f'<text x="{_W - _RIGHT - 4}" y="{_y(real_below) + 13:.1f}" class="thr-lab lab-real">'
        f"real &lt; {_threshold(real_below)}</text>",
    ]
    parts.append(_timeline_marks(result, duration))
    parts.append(_time_axis(duration))
    parts.append("</svg>")
    return "".join(parts)


def _hline(y: float, css_class: str) -> str:
    """A horizontal line across the plot area at height ``y``."""
    return f'<line x1="{_LEFT}" x2="{_W - _RIGHT}" y1="{y:.1f}" y2="{y:.1f}" class="{css_class}"/>'


def suspicious_spans(result: ScanResult, fake_at: float) -> list[tuple[float, float]]:
    """Time spans covered by windows at or above ``fake_at``, overlapping windows merged into one span."""
    spans: list[tuple[float, float]] = []
    for w in sorted(result.timeline, key=lambda w: w.start_s):
        if w.fake_probability < fake_at:
            continue
        if spans and w.start_s <= spans[-1][1]:
            spans[-1] = (spans[-1][0], max(spans[-1][1], w.end_s))
        else:
            spans.append((w.start_s, w.end_s))
    return spans


def _plot_label(result: ScanResult, thresholds: Thresholds) -> str:
    worst = result.most_suspicious_window()
    where = (
        f"; most suspicious window {worst.start_s:g}-{worst.end_s:g} s at {worst.fake_probability:.2f}"
        if worst else ""
    )
    return f"fake probability over time for {Path(result.path).name}{where}"


def _envelope_path(envelope: Envelope, duration: float) -> str:
    """Filled min/max outline, peak-normalised and centred on the plot (its shape matters, not its level)."""
    peak = float(max(np.max(np.abs(envelope.mins)), np.max(np.abs(envelope.maxs)), 1e-6))
    mid, half = _TOP + _PLOT_H / 2, _PLOT_H / 2 * 0.95
    span = min(envelope.duration_s / duration, 1.0)
    xs = _LEFT + _PLOT_W * span * (np.arange(len(envelope.maxs)) + 0.5) / len(envelope.maxs)
    outline = zip(np.r_[xs, xs[::-1]], np.r_[envelope.maxs, envelope.mins[::-1]], strict=True)
    points = " ".join(f"{x:.1f},{mid - half * v / peak:.1f}" for x, v in outline)
    return f'<polygon points="{points}" class="wave"/>'


def _timeline_marks(result: ScanResult, duration: float) -> str:
    """Each window as a bar over its span at its probability, joined through the window centres."""
    if not result.timeline:
        return ""
    parts = []
    centres = []
    for w in result.timeline:
        x0, x1, y = _x(w.start_s, duration), _x(w.end_s, duration), _y(w.fake_probability)
        centres.append(((x0 + x1) / 2, y))
        parts.append(f'<line x1="{x0:.1f}" x2="{x1:.1f}" y1="{y:.1f}" y2="{y:.1f}" class="span"/>')
    points = " ".join(f"{x:.1f},{y:.1f}" for x, y in centres)
    parts.append(f'<polyline points="{points}" class="trace"/>')
    for (x, y), w in zip(centres, result.timeline, strict=True):
        tip = f"{w.start_s:g}\u2013{w.end_s:g} s: fake_probability {w.fake_probability:.3f}"
        parts.append(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.5" class="dot"><title>{escape(tip)}</title></circle>'
        )
    return "".join(parts)


def _time_axis(duration: float) -> str:
    step = _tick_step(duration)
    parts = []
    t = 0.0
    while t <= duration + 1e-9:
        x = _x(t, duration)
        tick_top = _H - _BOTTOM
        parts.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{tick_top}" y2="{tick_top + 4}" class="tick"/>')
        parts.append(f'<text x="{x:.1f}" y="{_H - 8}" class="xlab">{escape(format_seconds(t))}</text>')
        t += step
    return "".join(parts)


# --------------------------------------------------------------------------------------------- HTML page
_CSS = """
:root{--fg:#1d2228;--muted:#5b6470;--line:#d9dde3;--card:#fff;--bg:#f4f6f8}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg);font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,
"Helvetica Neue",Arial,sans-serif}
main{max-width:980px;margin:0 auto;padding:16px}
h1{font-size:1.5rem;margin:.2em 0 .4em}
h2{font-size:1.05rem;margin:0;word-break:break-all}
.meta{color:var(--muted);font-size:.9rem}
.card{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:14px 16px;margin:14px 0}
.legend dt{font-weight:600;display:inline}
.legend dd{display:inline;margin:0 1em 0 .3em}
.counts{display:flex;flex-wrap:wrap;gap:8px;margin:.6em 0 0}
.badge{display:inline-block;color:#fff;border-radius:999px;padding:.1em .7em;font-weight:600;font-size:.85rem;
white-space:nowrap}
.real{background:#1b7f3b}.uncertain{background:#a86400}.fake{background:#c0262d}.error{background:#5b6470}
.head{display:flex;flex-wrap:wrap;align-items:center;gap:8px 12px}
.path{color:var(--muted);font-size:.85rem;word-break:break-all;margin:.2em 0 .5em}
.facts{display:flex;flex-wrap:wrap;gap:4px 18px;margin:.3em 0 .6em;font-size:.95rem}
.facts b{font-variant-numeric:tabular-nums}
.reason{background:#f7ecec;border-left:4px solid #c0262d;padding:8px 10px;border-radius:4px;
word-break:break-word}
.nowave{color:var(--muted);font-size:.85rem}
table{border-collapse:collapse;width:100%;font-size:.9rem}
.scroll{overflow-x:auto}
th,td{text-align:left;padding:4px 8px;border-bottom:1px solid var(--line)}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
td a{color:inherit;overflow-wrap:anywhere}
td:first-child{min-width:8em}
svg.plot{width:100%;height:auto;display:block}
svg .bg{fill:#fafbfc;stroke:var(--line)}
svg .hot{fill:#c0262d;fill-opacity:.14}
svg .wave{fill:#9fb3c8;fill-opacity:.45;stroke:none}
svg .grid{stroke:#c9ced6;stroke-width:.6}
svg .thr-fake{stroke:#c0262d;stroke-width:1.2;stroke-dasharray:6 4}
svg .thr-real{stroke:#1b7f3b;stroke-width:1.2;stroke-dasharray:6 4}
svg .thr-lab{font-size:12px;text-anchor:end}
svg .lab-fake{fill:#c0262d}
svg .lab-real{fill:#1b7f3b}
svg .span{stroke:#1d2a3a;stroke-width:1.5;stroke-opacity:.25}
svg .trace{fill:none;stroke:#1d2a3a;stroke-width:2.2;stroke-linejoin:round}
svg .dot{fill:#1d2a3a}
svg .ylab{font-size:12px;fill:var(--muted);text-anchor:end}
svg .xlab{font-size:12px;fill:var(--muted);text-anchor:middle}
svg .tick{stroke:var(--muted)}
@media (max-width:600px){main{padding:8px}.card{padding:10px}body{font-size:14px}
/* the plot scales down ~2.4x on a phone: enlarge its text in user units so it stays legible */
svg .ylab,svg .xlab,svg .thr-lab{font-size:24px}svg .dot{r:6px}svg .trace{stroke-width:4}}
"""


def _threshold(value: float) -> str:
    """Two decimals unless that would round a user's threshold (0.605 must not read as 0.60)."""
    return f"{value:.2f}" if round(value, 2) == value else f"{value:g}"


def _badge(verdict: str) -> str:
    return f'<span class="badge {verdict}">{escape(verdict)}</span>'


def _probability_text(result: ScanResult) -> str:
    return "\u2013" if result.fake_probability is None else f"{result.fake_probability:.3f}"


def error_reason(result: ScanResult) -> str:
    """The error message without a leading ``path:`` (the path is shown next to it already)."""
    reason = result.error or ""
    prefix = f"{result.path}: "
    return reason[len(prefix):] if reason.startswith(prefix) else reason


def _file_card(index: int, result: ScanResult, thresholds: Thresholds, envelope: Envelope | None) -> str:
    name = Path(result.path).name or result.path
    out = [
        f'<section class="card" id="file-{index}">',
        f'<div class="head">{_badge(result.verdict)}<h2>{escape(name)}</h2></div>',
        f'<div class="path">{escape(result.path)}</div>',
    ]
    if not result.ok:
        out.append(f'<div class="reason"><b>Not scanned:</b> {escape(error_reason(result))}</div>')
        out.append("</section>")
        return "".join(out)
    worst = result.most_suspicious_window()
    facts = [
        f"fake_probability <b>{_probability_text(result)}</b>",
        f"duration <b>{escape(format_seconds(result.duration_s or 0.0))}</b>",
        f"windows <b>{len(result.timeline)}</b>",
    ]
    if worst is not None:
        facts.append(
            f"most suspicious window <b>{worst.start_s:g}\u2013{worst.end_s:g} s "
            f"({worst.fake_probability:.3f})</b>"
        )
    out.append('<div class="facts">' + "".join(f"<span>{f}</span>" for f in facts) + "</div>")
    out.append(render_timeline_svg(result, thresholds, envelope))
    if envelope is None:
        out.append(
            '<div class="nowave">waveform not shown: the file could not be decoded again for the plot</div>'
        )
    out.append("</section>")
    return "".join(out)


def _summary_table(results: Sequence[ScanResult]) -> str:
    rows = []
    for i, r in enumerate(results):
        duration = "" if r.duration_s is None else escape(format_seconds(r.duration_s))
        rows.append(
            f'<tr><td><a href="#file-{i}">{escape(r.path)}</a></td><td>{_badge(r.verdict)}</td>'
            f'<td class="num">{_probability_text(r)}</td><td class="num">{duration}</td></tr>'
        )
    return (
        '<div class="scroll"><table><thead><tr><th>file</th><th>verdict</th>'
        '<th class="num">fake_<wbr>probability</th><th class="num">duration</th></tr></thead>'
        f'<tbody>{"".join(rows)}</tbody></table></div>'
    )


def render_scan_report(
    results: Sequence[ScanResult],
    *,
    model: str,
    model_version: str,
    thresholds: Thresholds,
    envelopes: Mapping[int, Envelope | None] | None = None,
    generated_at: datetime | None = None,
    settings_note: str | None = None,
) -> str:
    """The whole report as one HTML string; ``envelopes`` maps a result's index to its waveform envelope."""
    envelopes = envelopes or {}
    generated_at = generated_at or datetime.now(timezone.utc)
    counts = Counter(r.verdict for r in results)
    count_badges = "".join(
        f'<span class="badge {v}">{counts.get(v, 0)} {escape(v if v != "error" else "errors")}</span>'
        for v in VERDICTS
    )
    real_below, fake_at = thresholds.real_below, thresholds.fake_at_or_above
    header = (
        '<header class="card"><h1>unmask scan report</h1>'
        f'<div class="meta">model <b>{escape(model)}</b> version <b>{escape(model_version)}</b> \u00b7 '
        f"{len(results)} file{'s' if len(results) != 1 else ''} \u00b7 "
        f"generated {escape(generated_at.strftime('%Y-%m-%d %H:%M:%S %Z').strip())}"
        + (f" \u00b7 {escape(settings_note)}" if settings_note else "")
        + "</div>"
        '<p><b>fake_probability</b> is the calibrated probability that a file is fake (0 = surely real, '
        "1 = surely fake). The file score aggregates the scores of overlapping analysis windows, so a short "
        "manipulated passage is not averaged away; the plot under each file shows every window's score over "
        "the waveform, with windows at or above the fake threshold shaded.</p>"
        '<dl class="legend">'
        f"<dt>{_badge('real')}</dt><dd>p &lt; {_threshold(real_below)}</dd>"
        f"<dt>{_badge('uncertain')}</dt><dd>{_threshold(real_below)} \u2264 p &lt; {_threshold(fake_at)}: "
        "not confident enough to act on</dd>"
        f"<dt>{_badge('fake')}</dt><dd>p \u2265 {_threshold(fake_at)}</dd></dl>"
        f'<div class="counts">{count_badges}</div>'
        f"{_summary_table(results)}</header>"
    )
    cards = "".join(_file_card(i, r, thresholds, envelopes.get(i)) for i, r in enumerate(results))
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>unmask scan report \u2013 {len(results)} files</title><style>{_CSS}</style></head>"
        f"<body><main>{header}{cards}</main></body></html>\n"
    )


def write_scan_report(
    path: str | Path,
    results: Sequence[ScanResult],
    *,
    model: str,
    model_version: str,
    thresholds: Thresholds,
    limits: MediaLimits | None = None,
    settings_note: str | None = None,
) -> None:
    """Decode each scanned file's envelope, render the report and write it atomically to ``path``."""
    envelopes = {
        i: waveform_envelope(r.path, r.duration_s or 0.0, limits=limits)
        for i, r in enumerate(results)
        if r.ok
    }
    html = render_scan_report(
        results, model=model, model_version=model_version, thresholds=thresholds, envelopes=envelopes,
        settings_note=settings_note,
    )
    with atomic_text_file(path) as stream:
        stream.write(html)
