"""Artifact spectrum: a music detector that reads how regularly a song's long-term spectrum is rippled.

Why. Neural decoders (transposed convolutions, codec decoders, vocoders) leave small peaks in the average
spectrum at frequencies fixed by their upsampling, whatever the music (Afchar et al. 2025, "A Fourier
explanation of AI-music artifacts"; ArtifactNet reads the same codec residual). A classifier on the
peaks' *positions* learns the training decoders' frequencies and fails on a new decoder (Deezer's
finding, and ours: 28-35% pooled held-out EER on this pool). The *spacing regularity* of the ripple does
transfer: on the music pool's leave-one-family-out study it brought the pooled EER from 61% (the
SpecTTTra-style transformer) to the figures in docs/music.md.

Features of one window (30 s at 16 kHz by default: song-level context, the scan hops 15 s):
1. the long-term average power spectrum, 4096-point Hann frames every 1024 samples (3.9 Hz bins);
2. its log minus its running median over ``median_bins`` bins: the ripple, free of the song's envelope
   and of the channel's EQ;
3. the power spectrum *of the ripple along frequency* (a comb of spacing s puts energy at lag 1/s
   whatever its offset), log, in bands of ``lag_band`` lags.

Classifier: standardised features, logistic regression (L2, ``C``), classes weighted equally; fitted by
:meth:`fit_windows` (estimation, not gradient) or, in the study, :meth:`fit_features` on cached features.
Scoring runs in torch from buffers, so a checkpoint holds only tensors.
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
        onnx_blocker="its 31-bin running median (torch.median over unfolded bins) has no ONNX export here")
    min_duration_s: ClassVar[float] = 5.0  # a long-term spectrum needs some of the song
    default_config: ClassVar[dict[str, Any]] = {
        "sample_rate": 16000,
        "window_s": 30.0,
        "hop_s": 15.0,  # the scan's default hop for this model: windows overlap by half
        "n_fft": 4096,
        "frame_hop": 1024,
        "median_bins": 31,  # odd: the running median that the ripple is measured against
        "lag_band": 8,  # ripple lags summed per feature
        "C": 0.001,  # inverse L2 strength of the logistic regression
    }

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        super().__init__(config)
        cfg = self.config
        if int(cfg["median_bins"]) % 2 != 1:
            raise ValueError(f"median_bins must be odd, got {cfg['median_bins']}")
        if self.window_samples < int(cfg["n_fft"]):
            raise ValueError(f"window_s {cfg['window_s']} is shorter than one {cfg['n_fft']}-point frame")
        bins = int(cfg["n_fft"]) // 2 + 1
        self.n_features = (bins // 2) // int(cfg["lag_band"])  # lags 1 .. bins // 2, lag 0 (the mean) dropped
        self.register_buffer("window", torch.hann_window(int(cfg["n_fft"])), persistent=False)
        self.register_buffer("mean", torch.zeros(self.n_features))
        self.register_buffer("scale", torch.ones(self.n_features))
        self.register_buffer("weight", torch.zeros(self.n_features))
        self.register_buffer("bias", torch.zeros(()))
        self.register_buffer("fitted", torch.tensor(False))

    # ------------------------------------------------------------------------------------ features
    def long_term_spectrum(self, wave: torch.Tensor) -> torch.Tensor:
        """``[B, T] -> [B, bins]``: log of the mean power per frequency bin over the window."""
        cfg = self.config
        spec = torch.stft(wave.float(), int(cfg["n_fft"]), hop_length=int(cfg["frame_hop"]),
                          window=self.window, center=False, return_complex=True)
        power = spec.abs().square().mean(dim=-1)
        floor = power.mean(dim=-1, keepdim=True) * _RELATIVE_FLOOR + 1e-30
        return torch.log(power + floor)

    def ripple(self, log_spectrum: torch.Tensor) -> torch.Tensor:
        """The log spectrum minus its running median: peaks and dips, not the envelope."""
        half = int(self.config["median_bins"]) // 2
        padded = torch.nn.functional.pad(log_spectrum.unsqueeze(1), (half, half), mode="replicate").squeeze(1)
        return log_spectrum - padded.unfold(-1, 2 * half + 1, 1).median(dim=-1).values

    def features(self, wave: torch.Tensor) -> torch.Tensor:
        """``[B, T] -> [B, n_features]``: log power of the ripple's own spectrum, in bands of lags."""
        ripple = self.ripple(self.long_term_spectrum(wave))
        lags = torch.fft.rfft(ripple - ripple.mean(dim=-1, keepdim=True), dim=-1).abs().square()[:, 1:]
        band = int(self.config["lag_band"])
        used = lags[:, : self.n_features * band].reshape(lags.shape[0], self.n_features, band)
        return torch.log(used.mean(dim=-1) + 1e-6)

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
        """Fit the standardiser and the logistic regression on precomputed :meth:`features`.

        ``sample_weight`` (e.g. to weigh every source alike) is rescaled so each class weighs the same."""
        feats, targets = np.asarray(feats, dtype=np.float64), np.asarray(targets).astype(int)
        if set(np.unique(targets)) != {0, 1}:
            raise UnmaskError("artifact-spectrum needs real (0) and fake (1) windows to fit")
        weight = np.ones(len(targets)) if sample_weight is None else np.asarray(sample_weight, dtype=float)
        for label in (0, 1):
            weight[targets == label] *= 0.5 * len(targets) / weight[targets == label].sum()
        mean, scale = feats.mean(axis=0), feats.std(axis=0) + 1e-6
        regression = LogisticRegression(C=float(self.config["C"]), max_iter=5000, random_state=seed)
        regression.fit((feats - mean) / scale, targets, sample_weight=weight)
        for name, value in (("mean", mean), ("scale", scale), ("weight", regression.coef_[0]),
                            ("bias", regression.intercept_[0])):
            getattr(self, name).copy_(torch.as_tensor(value, dtype=torch.float32))
        self.fitted.fill_(True)
        return {"n_windows": int(len(targets)), "n_fake": int(targets.sum()),
                "train_accuracy": float(regression.score((feats - mean) / scale, targets))}

    def size_description(self) -> str:
        return f"{self.n_features} ripple features, logistic regression ({self.n_features + 1} weights)"
