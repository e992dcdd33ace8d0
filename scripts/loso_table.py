"""Markdown tables of a feature-cache study (``unmask train`` with ``feature_cache:``): per held-out source,
pooled figures, hold-out splits.

Usage: .venv/bin/python scripts/loso_table.py runs/whisper-tiny-mlp/study.json [--title "..."]
       .venv/bin/python scripts/loso_table.py A/study.json --compare B/study.json [--compare C/study.json]
         (studies side by side: the pooled figures, then each source's EER / errors at the pooled threshold)
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def pct(value: float | None) -> str:
    return "" if value is None else f"{100 * value:.1f}%"


def source_rows(folds: dict[str, dict]) -> list[str]:
    rows = ["| Held-out source | real | fake | EER | errors at the pooled threshold |",
            "|---|---|---|---|---|"]
    for source, fold in sorted(folds.items(), key=lambda kv: -kv[1].get("errors_at_pooled_threshold", 0)):
        rows.append(f"| {source} | {fold['n_real']} | {fold['n_fake']} | {pct(fold.get('eer'))} "
                    f"| {pct(fold.get('errors_at_pooled_threshold'))} |")
    return rows


def summary_rows(study: dict) -> list[str]:
    pooled = study["pooled_out_of_fold"]
    two_class = [f["eer"] for f in study["folds"].values() if "eer" in f]
    errors = [f["errors_at_pooled_threshold"] for f in study["folds"].values()]
    rows = ["| Figure | Value |", "|---|---|",
            f"| Pooled out-of-fold EER ({pooled['n']} clips, {len(study['folds'])} sources) "
            f"| {pct(pooled['eer'])} |",
            f"| Pooled AUC | {pooled['auc']:.3f} |",
            f"| Pooled ECE (after Platt calibration on these scores) | {pooled['ece']:.3f} |",
            f"| Worst two-class source EER | {pct(max(two_class)) if two_class else ''} |",
            f"| Worst source error rate at the pooled threshold | {pct(max(errors))} |"]
    augmented = study.get("pooled_out_of_fold_augmented")
    if augmented:
        rows.append("| Pooled EER on a channel-augmented view of every held-out clip "
                    f"| {pct(augmented['eer'])} |")
    for name, split in (study.get("holdout_splits") or {}).items():
        rows.append(f"| Hold-out split `{name}` ({split['n_fake']} fakes of {len(split['systems'])} systems, "
                    f"{split['n_real']} reals) EER | {pct(split['eer'])} |")
    return rows


def compare_rows(studies: dict[str, dict]) -> list[str]:
    """Several studies over the same sources, a column each: ``EER / errors at the pooled threshold``."""
    names = list(studies)
    header = "| | " + " | ".join(names) + " |"
    rows = [header, "|---|" + "---|" * len(names)]
    summaries = {name: dict(row.strip("| ").split(" | ") for row in summary_rows(study)[2:])
                 for name, study in studies.items()}
    for figure in summaries[names[0]]:
        values = " | ".join(summaries[n].get(figure, "") for n in names)
        rows.append(f"| {figure} | {values} |")
    first = studies[names[0]]["folds"]
    for source in sorted(first, key=lambda k: -first[k].get("errors_at_pooled_threshold", 0)):
        cells = []
        for name in names:
            fold = studies[name]["folds"].get(source, {})
            cells.append(f"{pct(fold.get('eer')) or '-'} / {pct(fold.get('errors_at_pooled_threshold'))}")
        rows.append(f"| {source} | " + " | ".join(cells) + " |")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("study", type=Path)
    parser.add_argument("--title", default=None)
    parser.add_argument("--compare", type=Path, action="append", default=[],
                        help="another study.json, shown in a column beside the first")
    args = parser.parse_args()
    study = json.loads(args.study.read_text())
    if args.compare:
        studies = {str(p.parent.name): json.loads(p.read_text()) for p in [args.study, *args.compare]}
        print("\n".join(compare_rows(studies)))
        return
    if args.title:
        print(f"## {args.title}\n")
    print("\n".join(summary_rows(study)))
    print()
    print("\n".join(source_rows(study["folds"])))


if __name__ == "__main__":
    main()
