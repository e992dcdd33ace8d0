"""LFCC-GMM: the ASVspoof 2019/2021 baseline (Todisco et al. 2019; Sahidullah et al. 2015).

Two Gaussian mixture models over LFCC frames, one for real (bona fide) and one for fake (spoof) speech;
a window's logit is the mean over its frames of the log-likelihood ratio
``log p(frame | fake) - log p(frame | real)`` (positive = fake, as every detector here).

Front-end: the ASVspoof LFCC (:class:`unmask.features.LFCC` defaults: 20 static coefficients over 20
linear filters, 20 ms windows every 10 ms, with deltas and double deltas: 60 dims); 512 diagonal
components per class as in the baseline (``covariance_type="full"`` is available).

Fitting is EM in scikit-learn (:class:`sklearn.mixture.GaussianMixture`), not gradient descent: the
trainer calls :meth:`LFCCGMM.fit_windows` with crops drawn from its balanced batches (see
``unmask.train.trainer``). Scoring runs in torch from buffers (means, Cholesky factors of the precisions,
log weights), so a checkpoint holds only tensors and loads with ``weights_only=True``.

Silence: frames more than ``silence_db`` below the loudest frame of their window (level read from c0,
the mean log band energy) are left out both when fitting and when averaging the LLR. Pauses carry the
recording's noise floor rather than the voice, and would otherwise teach the models the source's
channel. Loudness is normalised per window first (``normalise_loudness``), which only shifts c0.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any, ClassVar

import numpy as np
import torch
from sklearn.mixture import GaussianMixture

from unmask.errors import UnmaskError
from unmask.features import build_feature
from unmask.models.base import Capabilities, DetectorModel, loudness_gain, normalise_loudness
from unmask.models.registry import register

COVARIANCE_TYPES = ("diag", "full")
REAL, FAKE = 0, 1  # row of each class's model in the stacked buffers (also the 0/1 training targets)
_COMPONENT_CHUNK = 64  # full covariance: components scored at a time, to bound memory


# Terms more than this many nats below a row's largest are raised to it before exponentiating.
_LSE_FLOOR = -80.0


def logsumexp(x: torch.Tensor) -> torch.Tensor:
    """``torch.logsumexp(x, dim=-1)``, 9x faster on CPU for mixture scores (benchmarks/bench_features.py).

    Component log-densities of a frame span hundreds of nats, and ``exp`` of the far ones gives denormal
    floats, which x86 handles ~10x slower. Terms more than 80 nats below the row's largest are raised to
    ``exp(-80)`` first: each is < 2e-35 of the sum either way, invisible in float32 and float64 alike.
    """
    peak = x.amax(dim=-1, keepdim=True)
    finite = torch.isfinite(peak)
    shift = torch.where(finite, peak, torch.zeros_like(peak))
    out = (x - shift).clamp_(min=_LSE_FLOOR).exp_().sum(dim=-1).log_() + shift.squeeze(-1)
    return torch.where(finite.squeeze(-1), out, peak.squeeze(-1))  # all -inf -> -inf, inf/nan propagate


@register
class LFCCGMM(DetectorModel):
    """Bona fide and spoof GMMs over LFCC(+deltas) frames; logit = mean per-frame log-likelihood ratio."""

    name: ClassVar[str] = "lfcc-gmm"
    # Overlapping windows share STFT frames: see score_strip.
    capabilities: ClassVar[Capabilities] = Capabilities(training="estimation", scores_strips=True)
    default_config: ClassVar[dict[str, Any]] = {
        "sample_rate": 16000,
        "window_s": 4.0,
        "feature_kwargs": {},  # LFCC settings; the defaults are the ASVspoof baseline's
        "n_components": 512,
        "covariance_type": "diag",  # "diag" (baseline) or "full"
        "max_iter": 100,
        "reg_covar": 1e-3,  # added to every variance: keeps components off single frames
        "init_params": "k-means++",
        "max_frames": 200_000,  # per class; a random subset when more frames were drawn
        "silence_db": 40.0,  # frames this far below the window's loudest are ignored; None keeps all
        "normalise_loudness": True,
        "feature_norm": "none",  # "none" (baseline) or "cmvn" (per window, over its voiced frames)
        # Members: independent real/fake GMM pairs, each fitted on its own share of the crops (every
        # ensemble-th batch) from its own initialisation; the logit is the mean of their LLRs.
        "ensemble": 1,
    }

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        super().__init__(config)
        cfg = self.config
        if cfg["covariance_type"] not in COVARIANCE_TYPES:
            raise ValueError(
                f"lfcc-gmm: covariance_type {cfg['covariance_type']!r}; choose one of {COVARIANCE_TYPES}"
            )
        if cfg["feature_norm"] not in ("none", "cmvn"):
            raise ValueError(f"lfcc-gmm: feature_norm {cfg['feature_norm']!r}; choose 'none' or 'cmvn'")
        self.frontend = build_feature("lfcc", sample_rate=cfg["sample_rate"], **cfg["feature_kwargs"])
        if int(cfg["ensemble"]) < 1:
            raise ValueError(f"lfcc-gmm: ensemble must be >= 1, got {cfg['ensemble']!r}")
        # One row per (member, class): row 2 * member + class, so a single model is rows REAL, FAKE.
        rows, k, d = 2 * int(cfg["ensemble"]), int(cfg["n_components"]), int(self.frontend.n_features)
        chol_shape = (rows, k, d) if cfg["covariance_type"] == "diag" else (rows, k, d, d)
        # float64: the quadratic forms of 60-dim frames lose digits in float32; sklearn fits in float64.
        self.register_buffer("means", torch.zeros(rows, k, d, dtype=torch.float64))
        self.register_buffer("precisions_cholesky", torch.ones(chol_shape, dtype=torch.float64))
        self.register_buffer("log_weights", torch.full((rows, k), -math.log(k), dtype=torch.float64))
        self.register_buffer("fitted", torch.tensor(False))

    # ------------------------------------------------------------------------------------- features
    def frames(
        self, wave: torch.Tensor, dtype: torch.dtype = torch.float64
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """LFCC frames ``[B, frames, D]`` (in ``dtype``) and a mask ``[B, frames]`` of the non-silent ones."""
        if self.config["normalise_loudness"]:
            wave = normalise_loudness(wave)
        return self._select_frames(self.frontend(wave).transpose(1, 2).to(dtype))

    def _select_frames(self, feats: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``[B, frames, D]`` features -> (CMVN-normalised if configured) features and the voiced mask."""
        keep = self._voiced(feats[..., 0])
        if self.config["feature_norm"] == "cmvn":
            weights = keep.unsqueeze(-1).to(feats.dtype)
            count = weights.sum(dim=1, keepdim=True)
            mean = (feats * weights).sum(dim=1, keepdim=True) / count
            var = ((feats - mean).pow(2) * weights).sum(dim=1, keepdim=True) / count
            feats = (feats - mean) / var.sqrt().clamp_min(1e-3)
        return feats, keep

    def _voiced(self, c0: torch.Tensor) -> torch.Tensor:
        """Frames within ``silence_db`` of the window's loudest; the loudest frame always qualifies."""
        silence_db = self.config["silence_db"]
        if silence_db is None:
            return torch.ones_like(c0, dtype=torch.bool)
        lfcc = self.frontend.config()
        # Orthonormal DCT: c0 = sum(log band energy) / sqrt(n_filters); turn it into mean dB per band.
        per_band = c0 / math.sqrt(lfcc["n_filters"])
        level_db = 10.0 * (per_band if lfcc["log"] == "log10" else per_band / math.log(10.0))
        return level_db >= level_db.max(dim=-1, keepdim=True).values - float(silence_db)

    # -------------------------------------------------------------------------------------- scoring
    def frame_log_likelihoods(self, feats: torch.Tensor) -> torch.Tensor:
        """``[N, D]`` frames -> ``[N, 2]`` log-likelihoods under the real (col 0) and fake (col 1) GMMs,
        computed in the dtype of ``feats``; with an ensemble, each class's mean over the members."""
        if self.config["covariance_type"] == "diag":
            per_row = self._diag_log_likelihoods(feats)
        else:
            rows = range(self.means.shape[0])
            per_row = torch.stack([self._gmm_log_likelihood(feats, r) for r in rows], dim=-1)
        return per_row.reshape(per_row.shape[0], -1, 2).mean(dim=1)

    def _diag_log_likelihoods(self, x: torch.Tensor) -> torch.Tensor:
        """Every diagonal GMM (``[N, rows]``) in one matrix product: per component,
        ``log N(x) = [x*x, x] . [-p/2, p*mu] + const`` with precisions ``p``. 2.5x faster than one
        quadratic form per class in float64 (same result to 1e-13); in float32, as ``forward`` runs on
        float32 audio, 6x faster, and window scores move by about 1e-6 on real speech (float64 stays the
        reference for fitting and the sklearn check).
        """
        chol, means = self.precisions_cholesky, self.means  # [rows, K, D]
        precisions = chol.pow(2)
        rows, k, d = means.shape
        weights = torch.cat([-0.5 * precisions, precisions * means], dim=-1).reshape(rows * k, 2 * d)
        const = (
            -0.5 * (d * math.log(2 * math.pi) + (precisions * means.pow(2)).sum(-1))
            + chol.log().sum(-1)
            + self.log_weights
        ).reshape(rows * k)
        log_gauss = torch.cat([x * x, x], dim=-1) @ weights.T.to(x.dtype) + const.to(x.dtype)
        return logsumexp(log_gauss.reshape(-1, rows, k))

    def _gmm_log_likelihood(self, x: torch.Tensor, row: int) -> torch.Tensor:
        """Full-covariance GMM of ``row``, components in chunks to bound the ``[N, K, D]`` memory."""
        means, chol, log_w = self.means[row], self.precisions_cholesky[row], self.log_weights[row]
        d = x.shape[-1]
        parts = []
        for start in range(0, means.shape[0], _COMPONENT_CHUNK):
            c, m = chol[start : start + _COMPONENT_CHUNK], means[start : start + _COMPONENT_CHUNK]
            y = torch.einsum("nd,kde->nke", x, c.to(x.dtype)) - torch.einsum("kd,kde->ke", m, c).to(x.dtype)
            parts.append(y.pow(2).sum(-1))
        mahalanobis = torch.cat(parts, dim=1)
        log_det = chol.diagonal(dim1=-2, dim2=-1).log().sum(dim=-1).to(x.dtype)
        log_gauss = -0.5 * (d * math.log(2 * math.pi) + mahalanobis) + log_det
        return logsumexp(log_gauss + log_w.to(x.dtype))

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        self._check_fitted()
        return self._window_logits(*self.frames(wave, dtype=wave.dtype))

    def score_strip(self, strip: torch.Tensor, hop: int) -> torch.Tensor:
        """``forward`` of ``strip.unfold(0, window, hop)``, computing each STFT frame once.

        Loudness normalisation is a per-window gain ``g``, which scales the filterbank energies by
        ``g**2``; so the energies are computed once over the strip and scaled per window before the log.
        """
        self._check_fitted()
        window = self.window_samples
        if strip.shape[-1] < window:
            raise ValueError(f"strip of {strip.shape[-1]} samples is shorter than one window ({window})")
        bands = self.frontend.window_band_energies(strip, window, hop)  # [n, n_filters, frames]
        if self.config["normalise_loudness"]:
            gains = loudness_gain(strip.unfold(-1, window, hop))  # [n, 1]
            bands = bands * gains.square().unsqueeze(-1)
        feats = self.frontend.cepstra(bands).transpose(1, 2).to(strip.dtype)
        return self._window_logits(*self._select_frames(feats))

    def _window_logits(self, feats: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        """Mean LLR over each window's voiced frames, ``[B]``."""
        # Only voiced frames count, so only they are scored (pauses are often a fifth of speech).
        voiced = keep.reshape(-1)
        ll = self.frame_log_likelihoods(feats.reshape(-1, feats.shape[-1])[voiced])
        # 0 on unvoiced frames: the sum skips them (on the input's device, so a model on a GPU works)
        llr = torch.zeros(voiced.shape[0], dtype=torch.float64, device=feats.device)
        llr[voiced] = (ll[:, FAKE] - ll[:, REAL]).double()
        return (llr.reshape(keep.shape).sum(dim=1) / keep.sum(dim=1)).float()

    def _check_fitted(self) -> None:
        if not bool(self.fitted):
            raise UnmaskError(
                "lfcc-gmm has not been fitted", hint="train it (unmask train, or Trainer.fit) before scoring"
            )

    # -------------------------------------------------------------------------------------- fitting
    @torch.no_grad()
    def fit_windows(self, batches: Iterable[tuple[np.ndarray, np.ndarray]], seed: int = 0) -> dict[str, Any]:
        """Fit the GMMs by EM on the non-silent frames of ``(waves[B, T], targets[B])`` batches; with an
        ensemble, member ``m`` gets batches ``m, m + E, m + 2E, ...`` and EM seed ``seed + m``.

        Returns fit diagnostics: per class the frame count and the mean log-likelihood per frame of its
        own training frames (``train_loss`` is minus their average), EM iterations and convergence;
        with an ensemble, summed/averaged over the members, each member's under ``"members"``.
        """
        n_members = int(self.config["ensemble"])
        frames: list[dict[int, list[np.ndarray]]] = [{REAL: [], FAKE: []} for _ in range(n_members)]
        n_batches = 0
        for waves, targets in batches:
            feats, keep = self.frames(torch.as_tensor(np.asarray(waves, dtype=np.float32)))
            member = frames[n_batches % n_members]
            for feat, mask, target in zip(feats, keep, np.asarray(targets), strict=True):
                member[int(target)].append(feat[mask].numpy())
            n_batches += 1
        if n_batches < n_members:
            raise UnmaskError(
                f"lfcc-gmm: {n_batches} batches for an ensemble of {n_members}",
                hint="draw more crops (TrainConfig.fit_crops) or lower ensemble",
            )
        members = [self._fit_member(m, frames[m], seed + m) for m in range(n_members)]
        self.fitted.fill_(True)
        report: dict[str, Any] = {
            label: {
                "frames": sum(r[label]["frames"] for r in members),
                "mean_log_likelihood": float(np.mean([r[label]["mean_log_likelihood"] for r in members])),
                "iterations": max(r[label]["iterations"] for r in members),
                "converged": all(r[label]["converged"] for r in members),
            }
            for label in ("real", "fake")
        }
        if n_members > 1:
            report["members"] = members
        report["train_loss"] = -0.5 * (
            report["real"]["mean_log_likelihood"] + report["fake"]["mean_log_likelihood"]
        )
        return report

    def _fit_member(self, member: int, per_class: dict[int, list[np.ndarray]], seed: int) -> dict[str, Any]:
        rng = np.random.default_rng(seed)
        report: dict[str, Any] = {}
        for cls, label in ((REAL, "real"), (FAKE, "fake")):
            if not per_class[cls]:
                raise UnmaskError(f"lfcc-gmm: no {label} frames to fit", hint="give it real and fake clips")
            frames = np.concatenate(per_class[cls])
            if len(frames) > self.config["max_frames"]:
                frames = frames[rng.choice(len(frames), self.config["max_frames"], replace=False)]
            if len(frames) < self.config["n_components"]:
                raise UnmaskError(
                    f"lfcc-gmm: {len(frames)} {label} frames are too few for "
                    f"{self.config['n_components']} components",
                    hint="draw more crops (TrainConfig.fit_crops) or lower n_components",
                )
            gmm = GaussianMixture(
                n_components=self.config["n_components"],
                covariance_type=self.config["covariance_type"],
                max_iter=self.config["max_iter"],
                reg_covar=self.config["reg_covar"],
                init_params=self.config["init_params"],
                random_state=seed,
            ).fit(frames)
            self._store(2 * member + cls, gmm)
            report[label] = {
                "frames": len(frames),
                "mean_log_likelihood": float(gmm.score(frames)),
                "iterations": int(gmm.n_iter_),
                "converged": bool(gmm.converged_),
            }
        return report

    def _store(self, row: int, gmm: GaussianMixture) -> None:
        """Keep a fitted sklearn GMM as buffer row ``row`` (= 2 * member + class)."""
        self.means[row] = torch.from_numpy(gmm.means_)
        self.precisions_cholesky[row] = torch.from_numpy(gmm.precisions_cholesky_)
        self.log_weights[row] = torch.from_numpy(np.log(gmm.weights_))
