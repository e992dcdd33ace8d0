"""Reverberation with synthetic room impulse responses (no measured RIRs needed; the RIR model lives in
:mod:`unmask.signal.reverb`).

The impulse response is a direct-path impulse at sample 0 followed, after a short gap (the first
reflection's delay), by Gaussian noise under an exponential envelope that falls 60 dB in RT60 seconds:
the statistical late-reverberation model (Polack). Its energy relative to the direct path sets the
direct-to-reverberant ratio (DRR). Because the direct path sits at sample 0, the output is not delayed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from unmask.signal.reverb import LN_1000, convolve_same, synthetic_rir
from unmask.train.augment.base import Augmentation, as_range, check_sample_rate, uniform

__all__ = ["LN_1000", "Reverb", "synthetic_rir"]

@dataclass
class Reverb(Augmentation):
    """Convolve with a synthetic RIR: RT60 drawn in ``rt60_s`` (seconds), DRR in ``drr_db`` (dB),
    first-reflection gap in ``gap_ms``. Lower DRR and longer RT60 mean a more distant, echoic room."""

    rt60_s: tuple[float, float] = (0.2, 1.0)
    drr_db: tuple[float, float] = (0.0, 15.0)
    gap_ms: tuple[float, float] = (1.0, 10.0)
    sample_rate: int = 16000

    def __post_init__(self) -> None:
        self.rt60_s = as_range(self.rt60_s, "rt60_s", low=0.01, high=10.0)
        self.drr_db = as_range(self.drr_db, "drr_db", low=-30.0, high=60.0)
        self.gap_ms = as_range(self.gap_ms, "gap_ms", low=0.0, high=100.0)
        self.sample_rate = check_sample_rate(self.sample_rate)

    def apply(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        rir = synthetic_rir(uniform(rng, self.rt60_s), uniform(rng, self.drr_db),
                            uniform(rng, self.gap_ms) / 1000.0, self.sample_rate, rng)
        return convolve_same(x, rir)
