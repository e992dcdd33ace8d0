"""Combinators (Compose, RandomApply, RandomChoice), the config factory and the default channel chain.

A config is YAML/JSON-friendly: a list means "apply in order"; each entry is a dict with ``name``, an
optional ``p`` (apply with that probability) and the transform's own settings, e.g.::

    - {name: gain, p: 0.5, gain_db: [-20, 6], limit_peak: true}
    - {name: noise, p: 0.3, snr_db: [10, 35], kinds: [white, pink, brown]}
    - {name: one_of, p: 0.3, transforms: [{name: band_limit}, {name: resample}], weights: [1, 1]}
    - {name: codec, p: 0.3, codecs: [mp3, aac, opus]}

``sample_rate`` is given once to :func:`build_augmentation`, not per entry. Noise clips (arrays) cannot
live in a YAML file: build :class:`~unmask.train.augment.noise.AddNoise` in code for those.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from unmask.train.augment.base import Augmentation, AugmentationConfigError, as_choices
from unmask.train.augment.channel import BandLimit, Gain, Resample
from unmask.train.augment.codecs import CodecRoundTrip
from unmask.train.augment.noise import AddNoise
from unmask.train.augment.rawboost import ISDAdditiveNoise, LnLConvolutiveNoise, RawBoost, SSIAdditiveNoise
from unmask.train.augment.reverb import Reverb


@dataclass
class Compose(Augmentation):
    """Apply ``transforms`` one after the other."""

    transforms: Sequence[Augmentation]
    limits_peak = False  # each step limits its own output

    def __post_init__(self) -> None:
        self.transforms = tuple(self.transforms)

    def apply(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        for transform in self.transforms:
            x = transform(x, rng)
        return x


@dataclass
class RandomApply(Augmentation):
    """Apply ``transform`` with probability ``p``, else pass the wave through unchanged."""

    transform: Augmentation
    p: float = 0.5
    limits_peak = False

    def __post_init__(self) -> None:
        if not 0.0 <= float(self.p) <= 1.0:
            raise AugmentationConfigError(f"p must be within [0, 1], got {self.p!r}")
        self.p = float(self.p)

    def apply(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        # Always draw, so the random stream does not depend on earlier outcomes' side effects.
        return self.transform(x, rng) if rng.random() < self.p else x


@dataclass
class RandomChoice(Augmentation):
    """Apply one of ``transforms``, drawn with probabilities proportional to ``weights`` (equal if None)."""

    transforms: Sequence[Augmentation]
    weights: Sequence[float] | None = None
    limits_peak = False

    def __post_init__(self) -> None:
        self.transforms = tuple(as_choices(self.transforms, "transforms"))
        if self.weights is None:
            self.weights = (1.0,) * len(self.transforms)
        weights = np.asarray(self.weights, dtype=np.float64)
        if weights.shape != (len(self.transforms),) or np.any(weights < 0) or not weights.sum() > 0:
            raise AugmentationConfigError(
                f"weights must be {len(self.transforms)} non-negative numbers, not all 0; "
                f"got {self.weights!r}")
        self.weights = tuple(float(w) for w in weights)
        self._probabilities = weights / weights.sum()

    def apply(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return self.transforms[rng.choice(len(self.transforms), p=self._probabilities)](x, rng)


#: Config ``name`` -> transform class.
AUGMENTATIONS: dict[str, type[Augmentation]] = {
    "gain": Gain,
    "noise": AddNoise,
    "reverb": Reverb,
    "band_limit": BandLimit,
    "resample": Resample,
    "codec": CodecRoundTrip,
    "rawboost": RawBoost,
    "rawboost_lnl": LnLConvolutiveNoise,
    "rawboost_isd": ISDAdditiveNoise,
    "rawboost_ssi": SSIAdditiveNoise,
}
_COMPOSE_NAMES = ("compose", "chain")
_CHOICE_NAMES = ("one_of", "choice")

#: The default "channel" chain for training a detector that generalises across sources. Apply it to
#: real and fake clips alike (same distribution), so no channel property can separate the classes:
#: loudness (gain, then peak-normalised when it would clip), a room (reverb), background noise at
#: 10-35 dB SNR, a narrower band (low/high/telephone band-pass, or a low-rate resampling), and a lossy
#: codec (every codec this PyAV build has: MP3, AAC, Opus, AMR-NB, G.711, G.722). About 27% of clips
#: come out untouched (the product of the 1 - p), so clean audio stays in the training distribution.
DEFAULT_CHANNEL_CHAIN: list[dict] = [
    {"name": "gain", "p": 0.5, "gain_db": [-20.0, 6.0], "limit_peak": True},
    {"name": "reverb", "p": 0.2, "rt60_s": [0.2, 0.9], "drr_db": [0.0, 15.0]},
    {"name": "noise", "p": 0.35, "snr_db": [10.0, 35.0]},
    {"name": "one_of", "p": 0.3, "transforms": [{"name": "band_limit"}, {"name": "resample"}]},
    {"name": "codec", "p": 0.4},
]


def default_channel_chain(sample_rate: int = 16000) -> Augmentation:
    """:data:`DEFAULT_CHANNEL_CHAIN`, built. Meant for 16 kHz and above: at 8 kHz its resampling branch
    has no lower rate to go to and building raises AugmentationConfigError (edit the config)."""
    return build_augmentation(DEFAULT_CHANNEL_CHAIN, sample_rate=sample_rate)


def build_augmentation(config: Mapping | Sequence[Mapping], *, sample_rate: int = 16000) -> Augmentation:
    """Build an augmentation from a config: a list (applied in order) or one entry (see module docstring).

    Special names: ``compose``/``chain`` and ``one_of``/``choice`` take ``transforms`` (a list of entries;
    ``one_of`` also ``weights``), ``default`` gives :data:`DEFAULT_CHANNEL_CHAIN`. Raises
    :class:`AugmentationConfigError` naming the bad entry for unknown names or settings.
    """
    if isinstance(config, Mapping):
        return _build_entry(config, sample_rate, where="config")
    if isinstance(config, (str, bytes)) or not isinstance(config, Sequence):
        raise AugmentationConfigError(
            f"an augmentation config is a dict or a list of dicts, got {type(config).__name__}")
    return Compose([_build_entry(entry, sample_rate, where=f"config[{i}]") for i, entry in enumerate(config)])


def _build_entry(entry: Mapping, sample_rate: int, where: str) -> Augmentation:
    if not isinstance(entry, Mapping) or "name" not in entry:
        raise AugmentationConfigError(f"{where}: each entry must be a dict with a 'name', got {entry!r}")
    settings = dict(entry)
    name = str(settings.pop("name")).lower()
    p = settings.pop("p", None)
    where = f"{where} ({name})"
    if "sample_rate" in settings:
        raise AugmentationConfigError(
            f"{where}: sample_rate is set once for the whole config, by build_augmentation(sample_rate=...)")
    if name in _COMPOSE_NAMES or name in _CHOICE_NAMES:
        children = settings.pop("transforms", None)
        if not isinstance(children, Sequence) or isinstance(children, (str, bytes)) or not children:
            raise AugmentationConfigError(f"{where}: needs 'transforms', a non-empty list of entries")
        built = [_build_entry(c, sample_rate, f"{where}.transforms[{i}]") for i, c in enumerate(children)]
        weights = settings.pop("weights", None) if name in _CHOICE_NAMES else None
        _reject_leftovers(settings, where)
        transform = Compose(built) if name in _COMPOSE_NAMES else RandomChoice(built, weights)
    elif name == "default":
        _reject_leftovers(settings, where)
        transform = default_channel_chain(sample_rate)
    elif name in AUGMENTATIONS:
        transform = _build_leaf(AUGMENTATIONS[name], settings, sample_rate, where)
    else:
        known = sorted([*AUGMENTATIONS, *_COMPOSE_NAMES, *_CHOICE_NAMES, "default"])
        raise AugmentationConfigError(f"{where}: unknown augmentation {name!r}; known: {known}")
    return transform if p is None else RandomApply(transform, p)


def _build_leaf(cls: type[Augmentation], settings: dict, sample_rate: int, where: str) -> Augmentation:
    accepted = {f.name for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(settings) - accepted)
    if unknown:
        takes = sorted(accepted - {"sample_rate"})
        raise AugmentationConfigError(f"{where}: unknown setting(s) {unknown}; {cls.__name__} takes {takes}")
    if "sample_rate" in accepted:
        settings["sample_rate"] = sample_rate
    try:
        return cls(**settings)
    except AugmentationConfigError as exc:
        raise AugmentationConfigError(f"{where}: {exc.reason}", hint=exc.hint) from exc


def _reject_leftovers(settings: dict, where: str) -> None:
    if settings:
        raise AugmentationConfigError(f"{where}: unknown setting(s) {sorted(settings)}")
