"""The bench report: ``report.md`` + a self-contained ``report.html`` + PNG figures, from the results store.

Sections: leaderboard (clean EER, minDCF, AUC, ECE and the mean EER under corruption), EER per group,
DET curves (normal-deviate axes), robustness heatmaps (corruption x severity EER per detector) and
reliability diagrams. Every number and figure is computed here from the stored per-clip scores and
metrics with :mod:`unmask.eval.metrics`; nothing is typed in. The HTML embeds the PNGs as base64 and
escapes all text (detector, split and group names come from user configs and manifests).
"""

from __future__ import annotations

import base64
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from html import escape
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from unmask.eval.bench.store import CLEAN, ResultStore
from unmask.eval.metrics import (
    POOLED,
    compute_eer,
    det_curve,
    expected_calibration_error,
    probit,
    reliability_diagram,
)
from unmask.eval.protocols import split_slug
from unmask.report.writers import atomic_text_file

LEADERBOARD_COLUMNS = {
    "detector": "detector",
    "split": "split",
    "n": "clips",
    "eer": "EER",
    "min_dcf": "minDCF",
    "auc": "AUC",
    "ece": "ECE",
    "act_dcf": "actDCF",
    "corrupted_eer": "mean EER corrupted",
}
DET_TICKS = (0.001, 0.005, 0.02, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 0.95)
COUNT_COLUMNS = {"n", "clips", "n_real", "n_fake", "splits", "n_failed", "severity"}


@dataclass
class Table:
    frame: pd.DataFrame
    caption: str = ""


@dataclass
class Figure:
    path: Path
    caption: str


@dataclass
class Section:
    title: str
    text: str = ""
    blocks: list[Table | Figure] = field(default_factory=list)


def write_bench_report(store: ResultStore, run: str, out_dir: str | Path) -> dict[str, Any]:
    """Write ``report.md``, ``report.html`` and the figures for ``run`` into ``out_dir``.

    Returns ``{"markdown": path, "html": path, "figures": [paths]}``.
    """
    import matplotlib

    matplotlib.use("Agg")  # files only; never open a window (and no display on servers)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    info = store.run_info(run)
    cells = store.cells_frame(run)
    metrics = store.metrics_frame(run)
    clean_scores = store.scores_frame(run, corruption=CLEAN)
    sections = [
        _overview(info, cells),
        _leaderboard(metrics),
        _per_group(metrics, out),
        _det_curves(clean_scores, out),
        _robustness(metrics, out),
        _calibration(clean_scores, out),
    ]
    failed = _failures(cells)
    if failed:
        sections.append(failed)
    title = f"unmask bench report: {run}"
    markdown, html = out / "report.md", out / "report.html"
    with atomic_text_file(markdown) as stream:
        stream.write(render_markdown(title, sections))
    with atomic_text_file(html) as stream:
        stream.write(render_html(title, sections))
    figures = [b.path for s in sections for b in s.blocks if isinstance(b, Figure)]
    return {"markdown": markdown, "html": html, "figures": figures}


# -- sections -----------------------------------------------------------------------------------------
def _overview(info: dict[str, Any], cells: pd.DataFrame) -> Section:
    config = info["config"]
    counts = cells["status"].value_counts().to_dict() if len(cells) else {}
    corruptions = (
        ", ".join(
            f"{c['name']} ({', '.join(map(str, c['severities'])) if c.get('severities') else 'all'})"
            for c in config.get("corruptions", [])
        )
        or "none"
    )
    lines = [
        f"Run **{info['name']}** (config fingerprint `{info['fingerprint']}`), made with unmask "
        f"{info['unmask_version']}; report written {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC.",
        "",
        f"- detectors: {', '.join(d['name'] for d in config['detectors'])}",
        f"- splits: {', '.join(sorted(cells['split'].unique())) if len(cells) else '(none)'}",
        f"- corruptions (severities): {corruptions}; corruption seed = {config['seed']} + clip number",
        f"- cells: {len(cells)} ({', '.join(f'{v} {k}' for k, v in sorted(counts.items()))})",
        "",
        "Scores are `fake_probability` (higher = more likely fake); EER and minDCF (ASVspoof 5 costs) are"
        " threshold-free, ECE (15 bins) and actDCF judge the calibrated probabilities.",
    ]
    return Section("Overview", "\n".join(lines))


def _leaderboard(metrics: pd.DataFrame) -> Section:
    section = Section(
        "Leaderboard",
        "Clean test clips; sorted by EER within each split. *mean EER corrupted*"
        " averages EER over every corruption and severity of that detector and split.",
    )
    if metrics.empty:
        section.text = "No finished cells yet."
        return section
    pooled = metrics[metrics["grouping"] == POOLED]
    clean = pooled[pooled["corruption"] == CLEAN].copy()
    corrupted = (
        pooled[pooled["corruption"] != CLEAN]
        .groupby(["detector", "split"])["eer"]
        .mean()
        .rename("corrupted_eer")
    )
    clean = clean.join(corrupted, on=["detector", "split"])
    clean = clean.sort_values(["split", "eer"], na_position="last")
    section.blocks.append(
        Table(clean[[c for c in LEADERBOARD_COLUMNS if c in clean]].rename(columns=LEADERBOARD_COLUMNS))
    )
    multi = clean.groupby("protocol")["split"].nunique()
    for protocol in multi[multi > 1].index:
        rows = clean[clean["protocol"] == protocol]
        summary = (
            rows.groupby("detector")
            .agg(splits=("split", "nunique"), mean_eer=("eer", "mean"), worst_eer=("eer", "max"))
            .reset_index()
            .sort_values("mean_eer")
        )
        section.blocks.append(
            Table(
                summary.rename(columns={"mean_eer": "mean EER", "worst_eer": "worst EER"}),
                f"{protocol}: EER over its {multi[protocol]} splits",
            )
        )
    return section


def _per_group(metrics: pd.DataFrame, out: Path) -> Section:
    section = Section(
        "EER per group",
        "Clean test clips, one row per group value; a group with one class only has no EER (shown as -).",
    )
    if metrics.empty:
        return section
    grouped = metrics[(metrics["grouping"] != POOLED) & (metrics["corruption"] == CLEAN)]
    if grouped.empty:
        section.text = "No `group_by` columns in the config."
        return section
    import matplotlib.pyplot as plt

    for grouping, rows in grouped.groupby("grouping", sort=True):
        several_splits = rows["split"].nunique() > 1
        rows = rows.assign(
            group=rows["group_value"] if not several_splits else rows["split"] + " / " + rows["group_value"]
        )
        table = rows.pivot_table(
            index="group", columns="detector", values="eer", aggfunc="first", dropna=False
        )
        counts = rows.groupby("group")[["n_real", "n_fake"]].first()
        table = counts.join(table).reset_index()
        section.blocks.append(Table(table, f"EER by {grouping}"))
        eer = table.set_index("group")[[c for c in table.columns if c not in ("group", "n_real", "n_fake")]]
        fig, ax = plt.subplots(figsize=(8, 0.35 * len(eer) * max(1, len(eer.columns) / 2) + 1.2))
        (eer * 100).plot.barh(ax=ax, width=0.8)
        ax.invert_yaxis()
        _label_axes(ax, "EER (%)", grouping, grid_axis="x")
        section.blocks.append(
            Figure(_save(fig, out / f"eer-by-{split_slug(grouping)}.png"), f"EER by {grouping} (clean)")
        )
    return section


def _det_curves(scores: pd.DataFrame, out: Path) -> Section:
    section = Section(
        "DET curves",
        "False alarm rate (reals flagged fake) against miss rate (fakes passed as"
        " real) on normal-deviate axes, clean test clips. Lower-left is better; the dot is the EER.",
    )
    if scores.empty:
        return section

    scored = scores[scores["fake_probability"].notna()]
    limits = probit([DET_TICKS[0], DET_TICKS[-1]])
    for split, rows in scored.groupby("split", sort=True):
        fig, ax = _square_figure()
        for detector, clips in rows.groupby("detector", sort=True):
            if clips["label"].nunique() < 2:
                continue
            curve = det_curve(clips["fake_probability"], clips["label"])
            # Rates of 0 or 1 are infinite on probit axes: pin them to the frame so a perfect detector
            # shows as a line along the edges instead of vanishing.
            x = probit(np.clip(curve.fpr, DET_TICKS[0], DET_TICKS[-1]))
            y = probit(np.clip(curve.fnr, DET_TICKS[0], DET_TICKS[-1]))
            eer_index = int(np.argmin(np.abs(curve.fpr - curve.fnr)))
            eer = compute_eer(clips["fake_probability"], clips["label"]).eer
            (line,) = ax.plot(x, y, drawstyle="steps-post", label=f"{detector} (EER {eer * 100:.1f}%)")
            ax.plot(x[eer_index], y[eer_index], "o", color=line.get_color())
        ticks = probit(DET_TICKS)
        labels = [f"{t * 100:g}" for t in DET_TICKS]
        ax.set_xticks(ticks, labels)
        ax.set_yticks(ticks, labels)
        ax.set_xlim(*limits)
        ax.set_ylim(*limits)
        ax.plot(limits, limits, color="0.8", lw=0.8, zorder=0)
        _label_axes(ax, "false alarm rate (%)", "miss rate (%)", title=f"DET: {split}")
        section.blocks.append(
            Figure(_save(fig, out / f"det-{split_slug(split)}.png"), f"DET curves, {split}")
        )
    return section


def _robustness(metrics: pd.DataFrame, out: Path) -> Section:
    section = Section(
        "Robustness",
        "EER (%) for each corruption and severity; the *clean* column is the"
        " uncorrupted baseline. Each detector hears the same corrupted audio.",
    )
    if metrics.empty:
        return section
    pooled = metrics[metrics["grouping"] == POOLED]
    if (pooled["corruption"] != CLEAN).sum() == 0:
        section.text = "No corruptions in this run."
        return section
    import matplotlib.pyplot as plt

    for split, rows in pooled.groupby("split", sort=True):
        detectors = sorted(rows["detector"].unique())
        corruptions = sorted(rows.loc[rows["corruption"] != CLEAN, "corruption"].unique())
        severities = sorted(rows.loc[rows["corruption"] != CLEAN, "severity"].unique())
        fig, axes = plt.subplots(
            1,
            len(detectors),
            figsize=(2.6 * len(detectors) + 2.4, 0.4 * len(corruptions) + 1.8),
            squeeze=False,
            layout="constrained",
        )
        for ax, detector in zip(axes[0], detectors, strict=True):
            mine = rows[rows["detector"] == detector]
            clean = mine.loc[mine["corruption"] == CLEAN, "eer"]
            grid = np.full((len(corruptions), len(severities) + 1), np.nan)
            grid[:, 0] = clean.iloc[0] if len(clean) else np.nan
            for _, r in mine[mine["corruption"] != CLEAN].iterrows():
                grid[corruptions.index(r["corruption"]), severities.index(r["severity"]) + 1] = r["eer"]
            image = ax.imshow(grid * 100, vmin=0, vmax=50, cmap="magma_r", aspect="auto")
            for (i, j), value in np.ndenumerate(grid):
                if not math.isnan(value):
                    ax.text(
                        j,
                        i,
                        f"{value * 100:.0f}",
                        ha="center",
                        va="center",
                        fontsize=7,
                        color="white" if value > 0.3 else "black",
                    )
            ax.set_xticks(range(len(severities) + 1), ["clean", *map(str, severities)], fontsize=8)
            ax.set_yticks(
                range(len(corruptions)),
                corruptions if ax is axes[0][0] else [""] * len(corruptions),
                fontsize=8,
            )
            ax.set_xlabel("severity", fontsize=8)
            ax.set_title(detector, fontsize=9)
        fig.colorbar(image, ax=axes[0].tolist(), label="EER (%), 50 = chance", shrink=0.9)
        fig.suptitle(f"EER under corruption: {split}", fontsize=10)
        path = _save(fig, out / f"robustness-{split_slug(split)}.png", tight=False)
        section.blocks.append(Figure(path, f"Robustness heatmap, {split}"))
        table = rows.assign(
            condition=np.where(
                rows["corruption"] == CLEAN, "clean", rows["corruption"] + "@" + rows["severity"].astype(str)
            )
        )
        wide = table.pivot_table(index="condition", columns="detector", values="eer", aggfunc="first")
        order = ["clean"] + [f"{c}@{s}" for c in corruptions for s in severities if f"{c}@{s}" in wide.index]
        section.blocks.append(Table(wide.reindex(order).reset_index(), f"EER per condition, {split}"))
    return section


def _calibration(scores: pd.DataFrame, out: Path) -> Section:
    section = Section(
        "Calibration",
        "Reliability of `fake_probability` on clean test clips: the observed"
        " fraction of fakes in each predicted-probability bin (15 equal bins; marker size ~ clips"
        " in the bin). On the diagonal = calibrated.",
    )
    if scores.empty:
        return section

    scored = scores[scores["fake_probability"].notna()]
    for split, rows in scored.groupby("split", sort=True):
        fig, ax = _square_figure()
        ax.plot([0, 1], [0, 1], color="0.7", lw=0.8, ls="--")
        for detector, clips in rows.groupby("detector", sort=True):
            diagram = reliability_diagram(clips["fake_probability"], clips["label"])
            ece = expected_calibration_error(clips["fake_probability"], clips["label"])
            filled = diagram.count > 0
            (line,) = ax.plot(
                diagram.mean_predicted[filled],
                diagram.observed_frequency[filled],
                "-",
                label=f"{detector} (ECE {ece:.3f})",
            )
            ax.scatter(
                diagram.mean_predicted[filled],
                diagram.observed_frequency[filled],
                s=12 + 120 * diagram.count[filled] / diagram.count.sum(),
                color=line.get_color(),
            )
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        _label_axes(
            ax, "mean predicted fake_probability", "observed fraction of fakes",
            title=f"Reliability: {split}", legend_loc="upper left",
        )  # fmt: skip
        section.blocks.append(
            Figure(_save(fig, out / f"calibration-{split_slug(split)}.png"), f"Reliability diagram, {split}")
        )
    return section


def _failures(cells: pd.DataFrame) -> Section | None:
    problems = cells[(cells["status"] != "done") | (cells["n_failed"].fillna(0) > 0)]
    if problems.empty:
        return None
    table = problems[["detector", "split", "corruption", "severity", "status", "n_failed", "error"]].copy()
    table["error"] = table["error"].fillna("").map(lambda e: e.splitlines()[0] if e else "")
    return Section(
        "Failed or unfinished cells",
        "Cells not done, or with clips that could not be scored (those clips are left out of the metrics).",
        [Table(table)],
    )


def _square_figure() -> tuple[Any, Any]:
    """The figure and axes of a square plot (DET, reliability): equal scales on both axes."""
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=(5.5, 5.5))


def _label_axes(
    ax: Any,
    xlabel: str,
    ylabel: str,
    *,
    title: str | None = None,
    grid_axis: str = "both",
    legend_loc: str = "best",
) -> None:
    """The finish every report plot shares: axis labels, optional title, light grid, small legend."""
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title, fontsize=10)
    ax.grid(axis=grid_axis, alpha=0.3)
    ax.legend(fontsize=8, loc=legend_loc)


def _save(fig: Any, path: Path, tight: bool = True) -> Path:
    import matplotlib.pyplot as plt

    if tight:
        fig.tight_layout()
    # No timestamp in the PNG metadata: the same results give byte-identical figures.
    fig.savefig(path, dpi=110, metadata={"Software": None})
    plt.close(fig)
    return path


# -- rendering ----------------------------------------------------------------------------------------
def _cell(value: Any, column: str = "") -> str:
    if value is None:
        return "-"
    if column in COUNT_COLUMNS and isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    if isinstance(value, float | np.floating):
        if math.isnan(value):
            return "-"
        return f"{value:.4f}" if abs(value) < 1000 else f"{value:.0f}"
    if isinstance(value, np.integer):
        return str(int(value))
    return str(value)


def _md_table(frame: pd.DataFrame) -> str:
    header = [str(c) for c in frame.columns]
    numeric = [pd.api.types.is_numeric_dtype(frame[c]) for c in frame.columns]
    lines = [
        "| " + " | ".join(h.replace("|", "\\|") for h in header) + " |",
        "|" + "|".join("---:" if n else "---" for n in numeric) + "|",
    ]
    for row in frame.itertuples(index=False):
        cells = (_cell(v, c).replace("|", "\\|") for v, c in zip(row, header, strict=True))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def render_markdown(title: str, sections: Sequence[Section]) -> str:
    parts = [f"# {title}", ""]
    for section in sections:
        parts += [f"## {section.title}", ""]
        if section.text:
            parts += [section.text, ""]
        for block in section.blocks:
            if isinstance(block, Table):
                if block.caption:
                    parts += [f"**{block.caption}**", ""]
                parts += [_md_table(block.frame), ""]
            else:
                parts += [f"![{block.caption}]({block.path.name})", ""]
    return "\n".join(parts)


def _html_table(table: Table) -> str:
    frame = table.frame
    numeric = [pd.api.types.is_numeric_dtype(frame[c]) for c in frame.columns]
    head = "".join(
        f'<th class="{"num" if n else ""}">{escape(str(c))}</th>'
        for c, n in zip(frame.columns, numeric, strict=True)
    )
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="{"num" if n else ""}">{escape(_cell(v, str(c)))}</td>'
            for v, n, c in zip(row, numeric, frame.columns, strict=True)
        )
        + "</tr>"
        for row in frame.itertuples(index=False)
    )
    caption = f"<caption>{escape(table.caption)}</caption>" if table.caption else ""
    table_html = f"<table>{caption}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    return f'<div class="scroll">{table_html}</div>'


def _html_text(text: str) -> str:
    """The sections' own Markdown-light text: paragraphs and '- ' lists, escaped, with **bold**/`code`."""
    import re

    html, items = [], []
    for line in text.split("\n"):
        safe = escape(line)
        safe = re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", safe)
        safe = re.sub(r"`(.+?)`", r"<code>\1</code>", safe)
        safe = re.sub(r"\*(.+?)\*", r"<i>\1</i>", safe)
        if line.startswith("- "):
            items.append(f"<li>{safe[2:]}</li>")
            continue
        if items:
            html.append("<ul>" + "".join(items) + "</ul>")
            items = []
        if line.strip():
            html.append(f"<p>{safe}</p>")
    if items:
        html.append("<ul>" + "".join(items) + "</ul>")
    return "".join(html)


def render_html(title: str, sections: Sequence[Section]) -> str:
    """One HTML file: inline CSS, figures as base64 PNG data URIs, no external resources."""
    body = []
    for section in sections:
        parts = [f"<h2>{escape(section.title)}</h2>", _html_text(section.text)]
        for block in section.blocks:
            if isinstance(block, Table):
                parts.append(_html_table(block))
            else:
                data = base64.b64encode(block.path.read_bytes()).decode("ascii")
                parts.append(
                    f'<figure><img alt="{escape(block.caption)}" src="data:image/png;base64,{data}">'
                    f"<figcaption>{escape(block.caption)}</figcaption></figure>"
                )
        body.append(f'<section class="card">{"".join(parts)}</section>')
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_CSS}</style></head>"
        f"<body><main><h1>{escape(title)}</h1>{''.join(body)}</main></body></html>\n"
    )


_CSS = """
:root{--fg:#1d2228;--muted:#5b6470;--line:#d9dde3;--card:#fff;--bg:#f4f6f8}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg);font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,
"Helvetica Neue",Arial,sans-serif}
main{max-width:1080px;margin:0 auto;padding:16px}
h1{font-size:1.5rem;margin:.2em 0 .4em}
h2{font-size:1.15rem;margin:0 0 .4em}
.card{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:14px 16px;margin:14px 0}
table{border-collapse:collapse;width:100%;font-size:.88rem;margin:.6em 0}
caption{text-align:left;font-weight:600;padding:.3em 0}
.scroll{overflow-x:auto}
th,td{text-align:left;padding:4px 8px;border-bottom:1px solid var(--line)}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
figure{margin:.8em 0}
figure img{max-width:100%;height:auto;display:block}
figcaption{color:var(--muted);font-size:.85rem}
code{background:#eef0f3;padding:0 .25em;border-radius:3px}
"""
