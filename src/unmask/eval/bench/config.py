"""The bench configuration: one YAML file naming datasets, protocols, detectors and corruptions.

```yaml
name: example                   # the run's name in the results store
seed: 0                         # corruption seeds derive from it (seed + clip number)
datasets:
  dev:
    manifest: ../data/dev.csv   # relative to this file
    filters: {domain: speech}   # optional: column = value (or [values])
    sample: {per: [source, label], n: 4, seed: 0}   # optional: at most n rows per combination
protocols:                      # each expands to one or more named splits
  - {type: test_only, dataset: dev}
  - {type: in_domain, dataset: dev, test_fraction: 0.3, seed: 0, group_column: speaker}
  - {type: cross_dataset, train: dev, test: other}
  - {type: leave_one_group_out, dataset: dev, column: source, reals: group}
detectors:
  - {name: default, model: default}                   # bundled name or .pt checkpoint path
  - name: aasist
    import: {format: aasist-official, weights: AASIST.pth, conf: AASIST.conf}
    scan: {hop_s: 4.0}                                  # optional ScanSettings overrides
corruptions:                    # optional; each also runs clean
  - {name: white_noise, severities: [1, 3, 5]}
  - mp3                         # every severity the corruption defines
scoring:
  crop_s: 4.0                   # optional: score only the first crop_s seconds of each clip
group_by: [source, system]      # metrics per value of these columns, besides pooled
```
Errors name the file and the key that is wrong and what is expected.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from unmask._fs import file_sha256
from unmask.errors import UnmaskError

PROTOCOL_TYPES = ("test_only", "in_domain", "cross_dataset", "leave_one_group_out")
_TOP_KEYS = {
    "name",
    "seed",
    "datasets",
    "protocols",
    "detectors",
    "corruptions",
    "scoring",
    "group_by",
    "out_dir",
}


class BenchConfigError(UnmaskError):
    """A bench configuration that cannot be run: names the file, the key and what is expected."""


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    manifest: Path
    filters: dict[str, Any] = field(default_factory=dict)
    sample: dict[str, Any] | None = None


@dataclass(frozen=True)
class ProtocolSpec:
    type: str
    params: dict[str, Any]


@dataclass(frozen=True)
class DetectorSpec:
    """A fixed detector: a bundled model name or checkpoint (``model``), or released weights that are
    imported in memory at load time (``import_`` = {format, weights, conf})."""

    name: str
    model: str | None = None
    import_: dict[str, str] | None = None
    scan: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CorruptionSpec:
    name: str
    severities: tuple[int, ...] | None = None  # None: all the corruption defines


@dataclass(frozen=True)
class BenchConfig:
    name: str
    seed: int
    datasets: dict[str, DatasetSpec]
    protocols: list[ProtocolSpec]
    detectors: list[DetectorSpec]
    corruptions: list[CorruptionSpec] = field(default_factory=list)
    crop_s: float | None = None
    group_by: list[str] = field(default_factory=list)
    out_dir: Path | None = None
    source: Path | None = None

    def fingerprint(self) -> str:
        """A hash of everything that decides the results (not where they go): a run resumes only
        with the same fingerprint, so finished cells are never mixed with cells of another config.

        Besides the settings it covers the *contents* of the manifests and model files, so editing a
        manifest or retraining a checkpoint in place starts a new run instead of mixing old and new
        cells. The clips themselves are not hashed (that would mean reading the whole corpus).
        """
        payload = asdict(self)
        payload.pop("out_dir", None)
        payload.pop("source", None)
        payload["file_digests"] = self.file_digests()
        text = json.dumps(payload, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def file_digests(self) -> dict[str, str | None]:
        """SHA-256 of each manifest and model file the config names (None where it does not exist)."""
        from unmask.detect.pipeline import BUNDLED_MODELS, bundled_model_path

        files = {f"dataset:{name}": spec.manifest for name, spec in self.datasets.items()}
        for detector in self.detectors:
            if detector.model == "auto":  # the routed detector: both bundled models and the router
                from unmask.detect.routing import content_classifier_path

                files[f"detector:{detector.name}:speech"] = bundled_model_path("default")
                files[f"detector:{detector.name}:music"] = bundled_model_path("music")
                files[f"detector:{detector.name}:content"] = content_classifier_path()
            elif detector.model is not None:
                model = detector.model
                path = bundled_model_path(model) if model in BUNDLED_MODELS else Path(model)
                files[f"detector:{detector.name}"] = path
            for role, value in (detector.import_ or {}).items():
                if role in ("weights", "conf"):
                    files[f"detector:{detector.name}:{role}"] = Path(value)
        return {label: _sha256(path) for label, path in sorted(files.items())}


def _sha256(path: Path) -> str | None:
    if not path.is_file():
        return None  # reported when the cell runs; a missing file still fingerprints consistently
    return file_sha256(path)


def load_config(path: str | Path) -> BenchConfig:
    """Read and validate a bench YAML file; relative paths resolve against its folder."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise BenchConfigError(f"cannot read bench config ({exc.strerror})", path=path) from exc
    except yaml.YAMLError as exc:
        raise BenchConfigError(f"not valid YAML ({exc})", path=path) from exc
    return parse_config(raw, base=path.parent, source=path)


def parse_config(raw: Any, base: str | Path, source: Path | None = None) -> BenchConfig:
    """Validate a config mapping (as read from YAML); relative paths resolve against ``base``."""
    base = Path(base)
    check = _Checker(source)
    if not isinstance(raw, dict):
        raise check.fail("", f"the top level must be a mapping, got {type(raw).__name__}")
    unknown = sorted(set(raw) - _TOP_KEYS)
    if unknown:
        raise check.fail(unknown[0], "unknown key", f"known keys: {', '.join(sorted(_TOP_KEYS))}")
    name = check.text(raw, "name", "name", default=source.stem if source else None)
    seed = check.integer(raw, "seed", "seed", default=0)
    datasets = _datasets(check, raw.get("datasets"), base)
    protocols = _protocols(check, raw.get("protocols"), datasets)
    detectors = _detectors(check, raw.get("detectors"), base)
    corruptions = _corruptions(check, raw.get("corruptions") or [])
    scoring = raw.get("scoring") or {}
    if not isinstance(scoring, dict) or set(scoring) - {"crop_s"}:
        raise check.fail("scoring", "expected a mapping with the optional key crop_s")
    crop_s = scoring.get("crop_s")
    if crop_s is not None and (not isinstance(crop_s, int | float) or crop_s <= 0):
        raise check.fail("scoring.crop_s", f"expected a number of seconds > 0, got {crop_s!r}")
    group_by = raw.get("group_by") or []
    if isinstance(group_by, str):
        group_by = [group_by]
    if not isinstance(group_by, list) or not all(isinstance(c, str) for c in group_by):
        raise check.fail("group_by", "expected a list of manifest column names")
    out_dir = raw.get("out_dir")
    return BenchConfig(
        name=name,
        seed=seed,
        datasets=datasets,
        protocols=protocols,
        detectors=detectors,
        corruptions=corruptions,
        crop_s=float(crop_s) if crop_s is not None else None,
        group_by=list(group_by),
        out_dir=_resolve(base, out_dir) if out_dir else None,
        source=source,
    )


class _Checker:
    """Builds errors that say which file and key are wrong."""

    def __init__(self, source: Path | None) -> None:
        self.source = source

    def fail(self, key: str, reason: str, hint: str | None = None) -> BenchConfigError:
        where = f"key '{key}': " if key else ""
        return BenchConfigError(f"bench config {where}{reason}", path=self.source, hint=hint)

    def text(self, raw: dict, key: str, where: str, default: str | None = None) -> str:
        value = raw.get(key, default)
        if not isinstance(value, str) or not value.strip():
            raise self.fail(where, f"expected a non-empty text, got {value!r}")
        return value

    def integer(self, raw: dict, key: str, where: str, default: int) -> int:
        value = raw.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(where, f"expected an integer, got {value!r}")
        return value

    def mapping_list(self, value: Any, where: str, example: str) -> list:
        if not isinstance(value, list) or not value:
            raise self.fail(where, "expected a non-empty list", f"for example: {example}")
        return value


def _resolve(base: Path, value: str | Path) -> Path:
    path = Path(value).expanduser()
    return path if path.is_absolute() else (base / path).resolve()


def _datasets(check: _Checker, raw: Any, base: Path) -> dict[str, DatasetSpec]:
    if not isinstance(raw, dict) or not raw:
        raise check.fail(
            "datasets",
            "expected a mapping of dataset names to {manifest: CSV}",
            "datasets: {dev: {manifest: data/dev.csv}}",
        )
    datasets = {}
    for name, spec in raw.items():
        where = f"datasets.{name}"
        if isinstance(spec, str):
            spec = {"manifest": spec}
        if not isinstance(spec, dict) or "manifest" not in spec:
            raise check.fail(where, "expected {manifest: CSV path[, filters, sample]}")
        extra = sorted(set(spec) - {"manifest", "filters", "sample"})
        if extra:
            raise check.fail(f"{where}.{extra[0]}", "unknown key", "known: manifest, filters, sample")
        filters = spec.get("filters") or {}
        if not isinstance(filters, dict):
            raise check.fail(f"{where}.filters", "expected a mapping column: value")
        sample = spec.get("sample")
        if sample is not None:
            if not isinstance(sample, dict) or "n" not in sample or "per" not in sample:
                raise check.fail(f"{where}.sample", "expected {per: [columns], n: count[, seed]}")
            per = [sample["per"]] if isinstance(sample["per"], str) else sample["per"]
            n = sample["n"]
            if isinstance(n, bool) or not isinstance(n, int) or n < 1:
                raise check.fail(f"{where}.sample.n", f"expected an integer >= 1, got {n!r}")
            sample = {"per": list(per), "n": n, "seed": int(sample.get("seed", 0))}
        datasets[str(name)] = DatasetSpec(str(name), _resolve(base, spec["manifest"]), dict(filters), sample)
    return datasets


_PROTOCOL_KEYS = {
    "test_only": ({"dataset"}, set()),
    "in_domain": ({"dataset"}, {"test_fraction", "seed", "group_column"}),
    "cross_dataset": ({"train", "test"}, set()),
    "leave_one_group_out": ({"dataset", "column"}, {"reals", "groups"}),
}


def _protocols(check: _Checker, raw: Any, datasets: dict[str, DatasetSpec]) -> list[ProtocolSpec]:
    items = check.mapping_list(raw, "protocols", "protocols: [{type: test_only, dataset: dev}]")
    protocols = []
    for i, item in enumerate(items):
        where = f"protocols[{i}]"
        if not isinstance(item, dict) or item.get("type") not in PROTOCOL_TYPES:
            got = item.get("type") if isinstance(item, dict) else item
            raise check.fail(
                f"{where}.type", f"unknown protocol {got!r}", f"one of {', '.join(PROTOCOL_TYPES)}"
            )
        required, optional = _PROTOCOL_KEYS[item["type"]]
        params = {k: v for k, v in item.items() if k != "type"}
        missing = sorted(required - set(params))
        if missing:
            raise check.fail(f"{where}.{missing[0]}", f"required by protocol {item['type']}")
        extra = sorted(set(params) - required - optional - {"name"})
        if extra:
            raise check.fail(
                f"{where}.{extra[0]}",
                f"unknown key for protocol {item['type']}",
                f"known: {', '.join(sorted(required | optional | {'name'}))}",
            )
        for key in ("dataset", "train", "test"):
            if key in params and params[key] not in datasets:
                raise check.fail(
                    f"{where}.{key}", f"no dataset named {params[key]!r}", f"datasets: {', '.join(datasets)}"
                )
        protocols.append(ProtocolSpec(item["type"], params))
    return protocols


def _detectors(check: _Checker, raw: Any, base: Path) -> list[DetectorSpec]:
    items = check.mapping_list(raw, "detectors", "detectors: [{name: default, model: default}]")
    detectors, names = [], set()
    for i, item in enumerate(items):
        where = f"detectors[{i}]"
        if isinstance(item, str):
            item = {"name": Path(item).stem, "model": item}
        if not isinstance(item, dict):
            raise check.fail(where, "expected {name, model} or {name, import: {format, weights, conf}}")
        name = check.text(item, "name", f"{where}.name", default=item.get("model"))
        if name in names:
            raise check.fail(f"{where}.name", f"duplicate detector name {name!r}")
        names.add(name)
        extra = sorted(set(item) - {"name", "model", "import", "scan"})
        if extra:
            raise check.fail(f"{where}.{extra[0]}", "unknown key", "known: name, model, import, scan")
        if ("model" in item) == ("import" in item):
            raise check.fail(where, "give exactly one of 'model' (name or .pt path) or 'import'")
        model = None
        if "model" in item:
            model = str(item["model"])
            if model != "default" and (model.endswith(".pt") or "/" in model):
                model = str(_resolve(base, model))
                if not Path(model).is_file():
                    raise check.fail(
                        f"{where}.model",
                        f"checkpoint not found: {model}",
                        "a bundled model name (default) or the path of a .pt checkpoint",
                    )
        imported = None
        if "import" in item:
            spec = item["import"]
            if not isinstance(spec, dict) or not {"weights", "conf"} <= set(spec):
                raise check.fail(f"{where}.import", "expected {format, weights, conf}")
            imported = {
                "format": str(spec.get("format", "aasist-official")),
                "weights": str(_resolve(base, spec["weights"])),
                "conf": str(_resolve(base, spec["conf"])),
            }
            for role in ("weights", "conf"):
                if not Path(imported[role]).is_file():
                    raise check.fail(f"{where}.import.{role}", f"file not found: {imported[role]}")
        scan = item.get("scan") or {}
        if not isinstance(scan, dict):
            raise check.fail(f"{where}.scan", "expected a mapping of scan settings (window_s, hop_s, ...)")
        detectors.append(DetectorSpec(name, model, imported, dict(scan)))
    return detectors


def _corruptions(check: _Checker, raw: Any) -> list[CorruptionSpec]:
    if not isinstance(raw, list):
        raise check.fail("corruptions", "expected a list of names or {name, severities}")
    specs = []
    for i, item in enumerate(raw):
        where = f"corruptions[{i}]"
        if isinstance(item, str):
            specs.append(CorruptionSpec(item))
            continue
        if not isinstance(item, dict) or "name" not in item or set(item) - {"name", "severities"}:
            raise check.fail(where, "expected a name or {name, severities: [1, 2, ...]}")
        severities = item.get("severities")
        if severities is not None:
            if not isinstance(severities, list) or not all(
                isinstance(s, int) and not isinstance(s, bool) and s >= 1 for s in severities
            ):
                raise check.fail(
                    f"{where}.severities", f"expected a list of integers >= 1, got {severities!r}"
                )
            severities = tuple(severities)
        specs.append(CorruptionSpec(str(item["name"]), severities))
    return specs


def check_corruptions(config: BenchConfig) -> list[tuple[str, int]]:
    """(name, severity) pairs the config asks for, checked against the corruption registry."""
    if not config.corruptions:
        return []
    from unmask.eval.corruptions import CORRUPTIONS, corruption_names

    check = _Checker(config.source)
    pairs = []
    for i, spec in enumerate(config.corruptions):
        if spec.name not in CORRUPTIONS:
            raise check.fail(
                f"corruptions[{i}]",
                f"unknown corruption {spec.name!r}",
                f"known: {', '.join(corruption_names())}",
            )
        available = CORRUPTIONS[spec.name].severities
        severities = spec.severities or tuple(range(1, available + 1))
        too_high = [s for s in severities if s > available]
        if too_high:
            raise check.fail(
                f"corruptions[{i}].severities",
                f"{spec.name} has severities 1..{available}, got {too_high[0]}",
            )
        earlier = {s for name, s in pairs if name == spec.name}
        twice = sorted(s for s in set(severities) if s in earlier or list(severities).count(s) > 1)
        if twice:  # the same cell twice would break the store's one-row-per-cell rule at insert time
            raise check.fail(
                f"corruptions[{i}]",
                f"{spec.name} severity {twice[0]} is asked for twice",
                "list each corruption once, with every severity it needs",
            )
        pairs.extend((spec.name, s) for s in severities)
    return pairs
