"""Evaluation protocols: named train/test splits of manifests, each recording how it was made.

* :func:`in_domain`: a random split of one manifest, stratified by label; with ``group_column`` whole
  groups (speakers, sources) go to one side so no group straddles train and test.
* :func:`cross_dataset`: train on one manifest, test on another.
* :func:`leave_one_group_out`: one split per value of any column (``system``, ``source``,
  ``language``, ``speaker``), so cross-generator and cross-lingual studies are the same call.

A :class:`Split` keeps its protocol, seed and parameters, and :meth:`Split.write` saves the exact rows
of both sides as manifest CSVs plus a ``split.json``, so a result can be traced to the clips it used.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from unmask._fs import atomic_path
from unmask.data.manifest import Manifest
from unmask.errors import ManifestError

REAL_POLICIES = ("group", "shared")


@dataclass(frozen=True)
class Split:
    """One named train/test split. ``train`` is None for a test-only split (a fixed detector)."""

    name: str
    protocol: str
    test: Manifest
    train: Manifest | None = None
    seed: int | None = None
    params: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> dict[str, Any]:
        """Plain-data record of the split: protocol, seed, parameters and class counts per side."""
        sides = {"test": self.test} | ({"train": self.train} if self.train is not None else {})
        return {
            "name": self.name,
            "protocol": self.protocol,
            "seed": self.seed,
            "params": self.params,
            "counts": {side: _class_counts(m) for side, m in sides.items()},
        }

    def write(self, directory: str | Path) -> dict[str, Path]:
        """Write ``train.csv``/``test.csv`` (manifest CSVs of the exact rows) and ``split.json``.

        Returns the written paths by role (``train``, ``test``, ``info``).
        """
        folder = Path(directory)
        folder.mkdir(parents=True, exist_ok=True)
        written = {"test": self.test.write(folder / "test.csv")}
        if self.train is not None:
            written["train"] = self.train.write(folder / "train.csv")
        info = folder / "split.json"
        with atomic_path(info) as tmp:
            Path(tmp).write_text(json.dumps(self.describe(), indent=2, sort_keys=True) + "\n")
        written["info"] = info
        return written


def split_slug(name: str) -> str:
    """A file-system-safe form of a split name (for folders)."""
    return re.sub(r"[^A-Za-z0-9._=-]+", "_", name).strip("_") or "split"


def test_only(manifest: Manifest, name: str = "all") -> Split:
    """Every row is test data: the protocol for scoring fixed (already trained) detectors."""
    _require_rows(manifest, "test_only")
    return Split(name=name, protocol="test_only", test=manifest)


def in_domain(
    manifest: Manifest,
    test_fraction: float = 0.3,
    seed: int = 0,
    group_column: str | None = None,
    name: str = "in_domain",
) -> Split:
    """Random train/test split of one manifest.

    Without ``group_column`` the split is stratified by label (each side keeps the real/fake ratio).
    With it, whole groups are assigned to one side (scikit-learn's ``GroupShuffleSplit``), so no
    speaker/source appears in both; ``test_fraction`` is then the fraction of groups.
    """
    from sklearn.model_selection import GroupShuffleSplit, train_test_split

    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be between 0 and 1 (exclusive), got {test_fraction}")
    _require_rows(manifest, "in_domain", minimum=2)
    indices = np.arange(len(manifest))
    if group_column is None:
        labels = np.asarray(manifest.labels)
        stratify = labels if min(np.unique(labels, return_counts=True)[1]) >= 2 else None
        train_idx, test_idx = train_test_split(
            indices, test_size=test_fraction, random_state=seed, stratify=stratify
        )
    else:
        groups = _group_values(manifest, group_column)
        if len(set(groups)) < 2:
            raise ManifestError(
                f"in_domain split by '{group_column}' needs at least 2 groups, found {len(set(groups))}",
                path=manifest.origin,
            )
        splitter = GroupShuffleSplit(n_splits=1, test_size=test_fraction, random_state=seed)
        train_idx, test_idx = next(splitter.split(indices, groups=groups))
    params = {"test_fraction": test_fraction, "group_column": group_column}
    return Split(
        name=name,
        protocol="in_domain",
        train=_take(manifest, train_idx),
        test=_take(manifest, test_idx),
        seed=seed,
        params=params,
    )


def cross_dataset(train: Manifest, test: Manifest, name: str = "cross_dataset") -> Split:
    """Train on one manifest, test on another (e.g. train on ASVspoof, test on in-the-wild clips)."""
    _require_rows(train, "cross_dataset train side")
    _require_rows(test, "cross_dataset test side")
    params = {"train_origin": train.origin, "test_origin": test.origin}
    return Split(name=name, protocol="cross_dataset", train=train, test=test, params=params)


def leave_one_group_out(
    manifest: Manifest,
    column: str,
    *,
    reals: str = "group",
    groups: Sequence[str] | None = None,
    name_prefix: str | None = None,
) -> list[Split]:
    """One split per distinct value of ``column``: that group is the test side, the rest train.

    ``reals="group"`` (for ``source``, ``language``, ``speaker``): real rows go with their own group like
    fake rows. ``reals="shared"`` (for ``system``, where only fakes have a generator): groups are formed
    from fake rows only and every split's test side is the held-out group's fakes plus *all* real rows;
    the train side is the other fakes plus the same reals, which suits scoring fixed detectors (to
    train on such a split, hold reals out by another column). ``groups`` limits the held-out values.
    Rows with an empty cell form the group ``""`` (named ``(empty)``), never dropped silently.
    """
    if reals not in REAL_POLICIES:
        raise ValueError(f"reals must be one of {REAL_POLICIES}, got {reals!r}")
    values = np.asarray(_group_values(manifest, column), dtype=object)
    is_fake = np.asarray(manifest.labels) == "fake"
    candidates = values[is_fake] if reals == "shared" else values
    held_out = sorted(set(candidates))
    if groups is not None:
        unknown = sorted(set(groups) - set(held_out))
        if unknown:
            raise ManifestError(
                f"leave_one_group_out: no rows with {column} = {', '.join(map(repr, unknown))}",
                path=manifest.origin,
                hint=f"values present: {', '.join(map(repr, held_out))}",
            )
        held_out = list(groups)
    if len(held_out) < 2 and groups is None:
        raise ManifestError(
            f"leave_one_group_out over '{column}' needs at least 2 groups, found {len(held_out)}",
            path=manifest.origin,
        )
    prefix = name_prefix or f"logo-{column}"
    splits = []
    for value in held_out:
        in_group = values == value
        if reals == "shared":
            test_mask = (in_group & is_fake) | ~is_fake
            train_mask = ~in_group | ~is_fake
        else:
            test_mask, train_mask = in_group, ~in_group
        splits.append(
            Split(
                name=f"{prefix}={value or '(empty)'}",
                protocol="leave_one_group_out",
                train=_take(manifest, np.flatnonzero(train_mask)),
                test=_take(manifest, np.flatnonzero(test_mask)),
                params={"column": column, "held_out": value, "reals": reals},
            )
        )
    return splits


def without_shared(train: Any, test: Any, units: Sequence[str]) -> np.ndarray:
    """The boolean ``train`` mask minus every row whose ``units`` value (a song, a speaker) also appears on
    the ``test`` side: the same song must never sit in both training and test (SONICS's leakage check;
    a reconstruction shares its song with its original)."""
    train, test = np.asarray(train, dtype=bool), np.asarray(test, dtype=bool)
    units = np.asarray(units, dtype=object)
    return train & ~np.isin(units, list(set(units[test])))


def sample_per_group(manifest: Manifest, columns: Sequence[str], n: int, seed: int = 0) -> Manifest:
    """At most ``n`` rows per combination of ``columns`` (e.g. ``["source", "label"]``), drawn at random
    with ``seed``; rows keep their manifest order. Used to make small, balanced benchmark subsets."""
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    frame = manifest.frame
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ManifestError(
            f"cannot sample per {', '.join(missing)}: no such column (columns: {', '.join(frame.columns)})",
            path=manifest.origin,
        )
    rng = np.random.default_rng(seed)
    keep: list[int] = []
    for _, group in frame.groupby(list(columns), sort=True):
        positions = group.index.to_numpy()
        keep.extend(rng.choice(positions, size=min(n, len(positions)), replace=False).tolist())
    return _take(manifest, np.sort(np.asarray(keep, dtype=np.int64)))


def _group_values(manifest: Manifest, column: str) -> list[str]:
    if column not in manifest.columns:
        raise ManifestError(
            f"no column '{column}' to split by (columns: {', '.join(manifest.columns)})",
            path=manifest.origin,
        )
    return manifest.column(column)


def _take(manifest: Manifest, positions: Any) -> Manifest:
    mask = np.zeros(len(manifest), dtype=bool)
    mask[np.asarray(positions, dtype=np.int64)] = True
    return manifest.filter(lambda row: bool(mask[row.index]))


def _class_counts(manifest: Manifest) -> dict[str, int]:
    labels = manifest.labels
    return {"n": len(labels), "real": labels.count("real"), "fake": labels.count("fake")}


def _require_rows(manifest: Manifest, what: str, minimum: int = 1) -> None:
    if len(manifest) < minimum:
        raise ManifestError(
            f"{what}: the manifest has {len(manifest)} row(s), needs {minimum}", path=manifest.origin
        )
