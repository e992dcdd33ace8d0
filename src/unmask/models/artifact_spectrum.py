"""Artifact spectrum: a music detector that reads how regularly a song's long-term spectrum is rippled.

Why. Neural decoders (transposed convolutions, codec decoders, vocoders) leave small peaks in the average
spectrum at frequencies fixed by their upsampling, whatever the music (Afchar et al. 2025, "A Fourier
explanation of AI-music artifacts"; ArtifactNet reads the same codec residual). A classifier on the
peaks' *positions* learns the training decoders' frequencies and fails on a new decoder (Deezer's
finding, and ours: 28-35% pooled held-out EER on this pool). The *spacing regularity* of the ripple does
transfer: on the music pool's leave-one-family-out study it brought the pooled EER from 61% (the
SpecTTTra-style transformer) to the figures in docs/music.md.

Features of one window (30 s at 16 kHz by default: song-level context, the scan hops 15 s), in groups:
1. **Ripple lags** (``n_fft`` frames): the long-term average power spectrum, its log minus its running
   median over ``median_bins`` bins (the ripple, free of the song's envelope and of the channel's EQ), and
   the power spectrum *of the ripple along frequency* (a comb of spacing s puts energy at lag 1/s
   whatever its offset), log, in bands of ``lag_band`` lags. 16384-point frames (0.98 Hz bins) resolve
   combs that the 4096-point ones blur.
2. **Cyclic ripple lags**: the same, of the squared pre-emphasised signal. A decoder that writes frames
   of H samples modulates the signal's power every H samples, which shows as lines at fs / H there (the
   signal's cyclostationarity), again read by their spacing, not their place.
3. **Ripple summaries** (``detail_n_fft`` frames), which hold no frequency position at all: the
   ripple's spread, kurtosis, highest peak and deepest dip; the ripple-lag spectrum's highest peak above
   its median, its spread and its five highest; and the share of power above 25, 50, 75 and 90% of the
   band.
4. **Ripple stability**: the ripple of each eighth of the window, and how alike the eight are (mean,
   lowest and spread of their correlations). A decoder's comb stays where it is while the music moves.
5. **Persistence** (opt-in, not in the default ``groups``): is the fine ripple's strongest spacing there
   in every quarter of the band and every eighth of the window? Meant to tell a decoder's comb (one
   pattern over the whole band, all the time) from a synthesiser's held partials (fading up the band).
   Each feature told ACE-Step from the reals on its own (AUC 0.69-0.92), but beside groups 1-4 it
   did not lower the held-out EER (docs/music.md, session 10), so it stays out of the bundled model.

Classifier: standardised features and ``experts``, logistic regressions (L2, ``C``, classes weighted
equally), each on some of the groups; the logit is the mean of theirs. A mean of linear logits is one
linear logit, so the checkpoint holds one weight vector whatever the experts. Why two experts by default:
one reads every group, the ripple lags included, and learns where the training decoders' combs sit; the
other reads only the position-free groups (summaries, stability), so it cannot, and it carries to a
decoder whose comb sits elsewhere (ACE-Step held out on the music pool: 25% EER alone, against 36%
for the first, 29% for the two; the choice and its nested check are in docs/music.md).
Fitted by :meth:`fit_windows` (estimation, not gradient) or, in the study, :meth:`fit_features` on
cached features. Scoring runs in torch from buffers, so a checkpoint holds only tensors.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression

from unmask.errors import UnmaskError
from unmask.models.base import Capabilities, DetectorModel
from unmask.models.registry import register

# Power floor, relative to the window's mean power: silence and digital zeros give finite logs.
_RELATIVE_FLOOR = 1e-9


@register
class ArtifactSpectrum(DetectorModel):
    name: ClassVar[str] = "artifact-spectrum"
    capabilities: ClassVar[Capabilities] = Capabilities(
        modality="music", training="estimation", onnx=False,
        onnx_blocker="its running medians (torch.median over unfolded bins) have no ONNX export here")
    min_duration_s: ClassVar[float] = 5.0  # a long-term spectrum needs some of the song
    default_config: ClassVar[dict[str, Any]] = {
        "sample_rate": 16000,
        "window_s": 30.0,
        "hop_s": 15.0,  # the scan's default hop for this model: windows overlap by half
        "n_fft": 16384,  # group 1: the fine long-term spectrum
        "frame_hop": 4096,
        "median_bins": 127,  # odd: the running median that the ripple is measured against
        "lag_band": 16,  # ripple lags summed per feature
        "detail_n_fft": 4096,  # groups 2-4: the coarser spectrum, of the signal and of its power
        "detail_hop": 1024,
        "detail_median_bins": 31,
        "detail_lag_band": 8,
        "pre_emphasis": 0.97,  # group 2 reads the power of the signal after this first difference
        "segments": 8,  # groups 4 and 5: the window's parts whose ripples are compared
        "sub_bands": 4,  # group 5: equal parts of the band in which the shared ripple peak is looked for
        "persistence_lag_bands": 64,  # group 5: lag bands of the fine ripple (32 per sub-band's)
        # the groups the features hold; "persistence" is opt-in (it did not help: docs/music.md)
        "groups": ["lags", "cyclic", "summaries", "stability"],
        # each expert is a logistic regression on these groups; the logit is their mean (None: one on all)
        "experts": [["lags", "cyclic", "summaries", "stability"], ["summaries", "stability"]],
        "C": 0.001,  # inverse L2 strength of the logistic regression
    }
    N_SUMMARIES: ClassVar[int] = 11  # group 3
    N_STABILITY: ClassVar[int] = 3  # group 4
    N_PERSISTENCE_TIME: ClassVar[int] = 3  # group 5: lowest, median and highest over the segments
    # in feature order
    GROUPS: ClassVar[tuple[str, ...]] = ("lags", "cyclic", "summaries", "stability", "persistence")

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        super().__init__(config)
        cfg = self.config
        for key in ("median_bins", "detail_median_bins"):
            if int(cfg[key]) % 2 != 1:
                raise ValueError(f"{key} must be odd, got {cfg[key]}")
        frames = self.window_samples - int(cfg["detail_n_fft"])
        if frames < 0 or self.window_samples < int(cfg["n_fft"]):
            raise ValueError(f"window_s {cfg['window_s']} is shorter than one {cfg['n_fft']}-point frame")
        if frames // int(cfg["detail_hop"]) + 1 < int(cfg["segments"]):
            raise ValueError(f"window_s {cfg['window_s']} holds fewer {cfg['detail_n_fft']}-point frames "
                             f"than the {cfg['segments']} segments compared")
        # lags 1 .. bins // 2 of each ripple (lag 0, the mean, dropped), in bands
        self.n_lags = (int(cfg["n_fft"]) // 4) // int(cfg["lag_band"])
        self.n_cyclic = (int(cfg["detail_n_fft"]) // 4) // int(cfg["detail_lag_band"])
        fine_frames = (self.window_samples - int(cfg["n_fft"])) // int(cfg["frame_hop"]) + 1
        if "persistence" in cfg["groups"] and fine_frames < int(cfg["segments"]):
            raise ValueError(f"window_s {cfg['window_s']} holds fewer {cfg['n_fft']}-point frames than the "
                             f"{cfg['segments']} segments the persistence group compares")
        if int(cfg["sub_bands"]) < 2:
            raise ValueError(f"sub_bands must be at least 2, got {cfg['sub_bands']}")
        self.group_sizes = {"lags": self.n_lags, "cyclic": self.n_cyclic, "summaries": self.N_SUMMARIES,
                            "stability": self.N_STABILITY,
                            "persistence": int(cfg["sub_bands"]) + self.N_PERSISTENCE_TIME + 2}
        unknown = sorted(set(cfg["groups"]) - set(self.GROUPS))
        if unknown or not cfg["groups"]:
            raise ValueError(f"groups must be a non-empty subset of {', '.join(self.GROUPS)}, "
                             f"got {cfg['groups']}")
        self.groups = tuple(g for g in self.GROUPS if g in cfg["groups"])
        experts = cfg["experts"] if cfg.get("experts") is not None else [self.groups]
        if not all(expert and set(expert) <= set(self.groups) for expert in experts):
            raise ValueError("each expert must be a non-empty subset of the groups "
                             f"{', '.join(self.groups)}, got {cfg['experts']}")
        self.experts = [tuple(g for g in self.groups if g in expert) for expert in experts]
        self.n_features = sum(self.group_sizes[g] for g in self.groups)
        self.register_buffer("window", torch.hann_window(int(cfg["n_fft"])), persistent=False)
        self.register_buffer("detail_window", torch.hann_window(int(cfg["detail_n_fft"])), persistent=False)
        self.register_buffer("mean", torch.zeros(self.n_features))
        self.register_buffer("scale", torch.ones(self.n_features))
        self.register_buffer("weight", torch.zeros(self.n_features))
        self.register_buffer("bias", torch.zeros(()))
        self.register_buffer("fitted", torch.tensor(False))

    # ------------------------------------------------------------------------------------ features
    def power_frames(self, wave: torch.Tensor, detail: bool = False) -> torch.Tensor:
        """``[B, T] -> [B, bins, frames]``: power per Hann frame (``n_fft``, or ``detail_n_fft``)."""
        cfg = self.config
        n_fft, hop = (int(cfg["detail_n_fft"]), int(cfg["detail_hop"])) if detail else (
            int(cfg["n_fft"]), int(cfg["frame_hop"]))
        window = self.detail_window if detail else self.window
        spec = torch.stft(wave, n_fft, hop_length=hop, window=window, center=False, return_complex=True)
        return spec.abs().square()

    @staticmethod
    def log_power(power: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
        """Log of ``power`` with a floor relative to ``reference`` (the window's mean power, ``[B, 1]``):
        silence and digital zeros give finite logs."""
        return torch.log(power + reference * _RELATIVE_FLOOR + 1e-30)

    def long_term_spectrum(self, wave: torch.Tensor, detail: bool = False) -> torch.Tensor:
        """``[B, T] -> [B, bins]``: log of the mean power per frequency bin over the window."""
        return self.long_term_log(self.power_frames(wave, detail))

    def long_term_log(self, frames: torch.Tensor) -> torch.Tensor:
        """``[B, bins, frames] -> [B, bins]``: log of the frames' mean power per bin."""
        power = frames.mean(dim=-1)
        return self.log_power(power, power.mean(dim=-1, keepdim=True))

    @staticmethod
    def ripple(log_spectrum: torch.Tensor, median_bins: int, step: int = 1) -> torch.Tensor:
        """The log spectrum minus its running median (along the last axis): peaks and dips, not the
        envelope. ``step`` > 1 takes the median at every ``step``-th bin only and interpolates between
        (the envelope is smooth over ``median_bins``): ``step`` times less work, for many ripples."""
        half = median_bins // 2
        shape = log_spectrum.shape
        flat = log_spectrum.reshape(-1, 1, shape[-1])
        padded = torch.nn.functional.pad(flat, (half, half), mode="replicate").squeeze(1)
        median = padded.unfold(-1, 2 * half + 1, step).median(dim=-1).values
        if step > 1:  # medians at bins 0, step, 2 step, ...: linear in between, the last one held
            at = torch.arange(shape[-1], device=log_spectrum.device) / step
            low = at.floor().long().clamp(max=median.shape[-1] - 1)
            high = (low + 1).clamp(max=median.shape[-1] - 1)
            share = (at - low).clamp(max=1.0)
            median = median[:, low] * (1 - share) + median[:, high] * share
        return log_spectrum - median.reshape(shape)

    @staticmethod
    def ripple_lags(ripple: torch.Tensor, n_bands: int) -> torch.Tensor:
        """``[B, bins] -> [B, n_bands]``: log power of the ripple's own spectrum, lag 0 dropped, in bands."""
        lags = torch.fft.rfft(ripple - ripple.mean(dim=-1, keepdim=True), dim=-1).abs().square()[:, 1:]
        band = lags.shape[-1] // n_bands
        return torch.log(lags[:, : n_bands * band].reshape(lags.shape[0], n_bands, band).mean(dim=-1) + 1e-6)

    def features(self, wave: torch.Tensor) -> torch.Tensor:
        """``[B, T] -> [B, n_features]``: the ``groups`` of the module docstring, side by side."""
        cfg = self.config
        wave = wave.float()
        parts = []
        if {"lags", "persistence"} & set(self.groups):
            fine_frames = self.power_frames(wave)
            fine = self.ripple(self.long_term_log(fine_frames), int(cfg["median_bins"]))
        if "lags" in self.groups:
            parts.append(self.ripple_lags(fine, self.n_lags))
        if "cyclic" in self.groups:
            emphasised = wave[:, 1:] - float(cfg["pre_emphasis"]) * wave[:, :-1]
            power = emphasised.square()
            power_spectrum = self.long_term_spectrum(power - power.mean(dim=-1, keepdim=True), detail=True)
            cyclic = self.ripple(power_spectrum, int(cfg["detail_median_bins"]))
            parts.append(self.ripple_lags(cyclic, self.n_cyclic))
        if "summaries" in self.groups or "stability" in self.groups:
            frames = self.power_frames(wave, detail=True)
            parts += [group(frames) for name, group in (("summaries", self.summaries),
                                                        ("stability", self.stability)) if name in self.groups]
        if "persistence" in self.groups:
            parts.append(self.persistence(fine_frames, fine))
        return torch.cat(parts, dim=-1)

    def columns_of(self, groups: Iterable[str]) -> np.ndarray:
        """Where ``groups`` sit in this model's feature vector: a model reading fewer groups scores this
        model's cached features sliced there (the study's nested check does)."""
        wanted = set(groups)
        missing = sorted(wanted - set(self.groups))
        if missing:
            raise ValueError(f"this model's features hold no {', '.join(missing)} group")
        columns, start = [], 0
        for name in self.groups:
            if name in wanted:
                columns.append(np.arange(start, start + self.group_sizes[name]))
            start += self.group_sizes[name]
        return np.concatenate(columns)

    def summaries(self, frames: torch.Tensor) -> torch.Tensor:
        """Group 3, from ``[B, bins, frames]`` detail power: statistics that name no frequency."""
        mean = frames.mean(dim=-1)
        log_spectrum = self.log_power(mean, mean.mean(dim=-1, keepdim=True))
        ripple = self.ripple(log_spectrum, int(self.config["detail_median_bins"]))
        lags = self.ripple_lags(ripple, self.n_cyclic)  # as many bands as group 2: both are detail ripples
        above = lags - lags.median(dim=-1, keepdim=True).values
        variance = ripple.var(dim=-1)
        bins = log_spectrum.shape[-1]
        total = torch.logsumexp(log_spectrum, dim=-1)
        high = [torch.logsumexp(log_spectrum[:, int(bins * share):], dim=-1) - total
                for share in (0.25, 0.5, 0.75, 0.9)]
        return torch.stack([ripple.std(dim=-1), ripple.pow(4).mean(dim=-1) / (variance.square() + 1e-9),
                            ripple.amax(dim=-1), -ripple.amin(dim=-1), above.amax(dim=-1), above.std(dim=-1),
                            above.topk(5, dim=-1).values.mean(dim=-1), *high], dim=-1)

    def segment_ripples(self, frames: torch.Tensor, median_bins: int, step: int = 1) -> torch.Tensor:
        """``[B, bins, frames] -> [B, segments, bins]``: the ripple of each of the window's ``segments``
        parts, its power floored against the whole window's mean (groups 4 and 5)."""
        n = int(self.config["segments"])
        batch, bins, count = frames.shape
        reference = frames.mean(dim=(1, 2)).unsqueeze(-1).unsqueeze(-1)  # the whole window's mean power
        parts = frames[..., : count // n * n].reshape(batch, bins, n, -1).mean(dim=-1).transpose(1, 2)
        return self.ripple(self.log_power(parts, reference), median_bins, step)

    def stability(self, frames: torch.Tensor) -> torch.Tensor:
        """Group 4: how alike the ripples of the window's ``segments`` parts are (correlations between
        every two: mean, lowest, spread)."""
        n = int(self.config["segments"])
        ripples = self.segment_ripples(frames, int(self.config["detail_median_bins"]))
        centred = ripples - ripples.mean(dim=-1, keepdim=True)
        unit = centred / (centred.norm(dim=-1, keepdim=True) + 1e-12)
        correlations = unit @ unit.transpose(1, 2)  # [B, n, n]
        off_diagonal = correlations[:, ~torch.eye(n, dtype=torch.bool, device=frames.device)]
        return torch.stack([off_diagonal.mean(dim=-1), off_diagonal.amin(dim=-1), off_diagonal.std(dim=-1)],
                           dim=-1)

    @staticmethod
    def lag_prominence(ripples: torch.Tensor, n_bands: int) -> torch.Tensor:
        """``[B, S, bins] -> [B, S, n_bands]``: each ripple's lag spectrum in bands, above its own median."""
        batch, count, bins = ripples.shape
        lags = ArtifactSpectrum.ripple_lags(ripples.reshape(batch * count, bins), n_bands)
        return (lags - lags.median(dim=-1, keepdim=True).values).reshape(batch, count, n_bands)

    @staticmethod
    def shared_peak(prominence: torch.Tensor) -> torch.Tensor:
        """``[B, S, n_bands] -> [B, S]``: every part's prominence at the lag band that stands out most over
        all the parts together, sorted (so the features name no part)."""
        shared = prominence.sum(dim=1).argmax(dim=-1)
        at = prominence.gather(2, shared[:, None, None].expand(-1, prominence.shape[1], 1)).squeeze(-1)
        return at.sort(dim=-1).values

    def persistence(self, frames: torch.Tensor, whole: torch.Tensor) -> torch.Tensor:
        """Group 5 (opt-in), from ``[B, bins, frames]`` fine power and its long-term ripple ``[B, bins]``:
        is the ripple's strongest spacing there in every part of the band and of the window?

        Why: a decoder's comb is one multiplicative pattern, as strong high in the band as low, and there
        all the time. A synthesiser's held chord also ripples the long-term spectrum with a regular
        spacing (its partials), but its partials fade into the noise up the band and move with the
        notes. Features: the shared peak's prominence in each of ``sub_bands`` equal parts of the band
        (sorted), its lowest, median and highest over the ``segments`` parts of the window, and the
        ripple's spread in the top part against the bottom part, and across the parts (log)."""
        cfg = self.config
        k, n, median_bins = int(cfg["sub_bands"]), int(cfg["segments"]), int(cfg["median_bins"])
        batch, bins = whole.shape
        width = bins // k
        sub = whole[:, : k * width].reshape(batch, k, width)
        bands = self.shared_peak(self.lag_prominence(sub, int(cfg["persistence_lag_bands"]) // 2))
        ripples = self.segment_ripples(frames, median_bins, step=8)  # medians at every 8th bin: cheaper
        over_time = self.shared_peak(self.lag_prominence(ripples, int(cfg["persistence_lag_bands"])))
        spread = torch.log(sub.std(dim=-1) + 1e-6)
        return torch.cat([bands, over_time[:, [0, n // 2, n - 1]], (spread[:, -1] - spread[:, 0])[:, None],
                          spread.std(dim=-1, keepdim=True)], dim=-1)

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        return self.score_features(self.features(wave))

    def score_features(self, feats: torch.Tensor) -> torch.Tensor:
        """Logits of precomputed :meth:`features` (the study scores its cache with this)."""
        if not bool(self.fitted):
            raise UnmaskError("artifact-spectrum has not been fitted",
                              hint="fit it (scripts/music_study.py, or fit_windows) before scoring")
        return ((feats - self.mean) / self.scale) @ self.weight + self.bias

    # ------------------------------------------------------------------------------------- fitting
    @torch.no_grad()
    def fit_windows(self, batches: Iterable[tuple[np.ndarray, np.ndarray]], seed: int = 0) -> dict[str, Any]:
        """Fit on the features of ``(waves[B, T], targets[B])`` batches (1 = fake), classes weighted
        equally."""
        feats, targets = [], []
        for waves, batch_targets in batches:
            feats.append(self.features(torch.as_tensor(np.asarray(waves, dtype=np.float32))).numpy())
            targets.append(np.asarray(batch_targets))
        if not feats:
            raise UnmaskError("artifact-spectrum: no windows to fit on", hint="give it real and fake windows")
        return self.fit_features(np.concatenate(feats), np.concatenate(targets), seed=seed)

    def fit_features(self, feats: np.ndarray, targets: np.ndarray, sample_weight: np.ndarray | None = None,
                     seed: int = 0) -> dict[str, Any]:
        """Fit the standardiser and each expert's logistic regression on precomputed :meth:`features`;
        the weights kept are the experts' mean (zero where an expert does not look).

        ``sample_weight`` (e.g. to weigh every source alike) is rescaled so each class weighs the same."""
        feats, targets = np.asarray(feats, dtype=np.float64), np.asarray(targets).astype(int)
        if set(np.unique(targets)) != {0, 1}:
            raise UnmaskError("artifact-spectrum needs real (0) and fake (1) windows to fit")
        weight = np.ones(len(targets)) if sample_weight is None else np.asarray(sample_weight, dtype=float)
        for label in (0, 1):
            weight[targets == label] *= 0.5 * len(targets) / weight[targets == label].sum()
        mean, scale = feats.mean(axis=0), feats.std(axis=0) + 1e-6
        standard = (feats - mean) / scale
        coef, bias = np.zeros(self.n_features), 0.0
        for expert in self.experts:
            columns = self.columns_of(expert)
            regression = LogisticRegression(C=float(self.config["C"]), max_iter=5000, random_state=seed)
            regression.fit(standard[:, columns], targets, sample_weight=weight)
            coef[columns] += regression.coef_[0] / len(self.experts)
            bias += regression.intercept_[0] / len(self.experts)
        for name, value in (("mean", mean), ("scale", scale), ("weight", coef), ("bias", bias)):
            getattr(self, name).copy_(torch.as_tensor(value, dtype=torch.float32))
        self.fitted.fill_(True)
        accuracy = float(np.mean(((standard @ coef + bias) > 0) == targets))
        return {"n_windows": int(len(targets)), "n_fake": int(targets.sum()), "train_accuracy": accuracy,
                "experts": [list(expert) for expert in self.experts]}

    def size_description(self) -> str:
        groups = ", ".join(f"{self.group_sizes[g]} {g}" for g in self.groups)
        experts = " and ".join("(" + ", ".join(expert) + ")" for expert in self.experts)
        return (f"{self.n_features} features ({groups}); the mean of {len(self.experts)} logistic "
                f"regression(s) on {experts}: {self.n_features + 1} weights")
