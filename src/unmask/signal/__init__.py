"""Low-level signal primitives shared by training augmentation and evaluation corruptions.

Everything here is a plain function on 1-D float64 numpy arrays with explicit parameters (and an explicit
``numpy.random.Generator`` where randomness is involved): no sampling of settings, no configs. The
layers above decide *what* to apply (``unmask.train.augment`` draws random settings per clip;
``unmask.eval.corruptions`` applies fixed, documented severities); this package says *how*.
"""

from unmask.signal.codecs import (
    CODECS,
    CodecSpec,
    CodecUnavailableError,
    align,
    available_codecs,
    codec_delay,
    codec_round_trip,
    encode_decode,
    estimate_delay,
    undelay,
)
from unmask.signal.core import SignalError, add_at_snr, fit_length, peak_limit, power
from unmask.signal.filters import band_pass, zero_phase_filter
from unmask.signal.noise import COLOUR_EXPONENTS, coloured_noise, looped_excerpt
from unmask.signal.resample import resample, resample_round_trip
from unmask.signal.reverb import convolve_same, synthetic_rir
from unmask.signal.synth import speech_like_probe

__all__ = [
    "CODECS", "COLOUR_EXPONENTS", "CodecSpec", "CodecUnavailableError", "SignalError", "add_at_snr", "align",
    "available_codecs", "band_pass", "codec_delay", "codec_round_trip", "coloured_noise", "convolve_same",
    "encode_decode", "estimate_delay", "fit_length", "looped_excerpt", "peak_limit", "power", "resample",
    "resample_round_trip", "speech_like_probe", "synthetic_rir", "undelay", "zero_phase_filter",
]
