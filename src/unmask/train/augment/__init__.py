"""Train-time audio augmentation: randomise the channel (loudness, room, noise, band, codec) on real and
fake clips alike, so a detector learns the generator's fingerprint rather than the recording chain.

Every transform is ``aug(wave, rng) -> wave``: 1-D float in, float32 of the same length out, finite,
peak within [-1, 1] (Gain may opt out), deterministic given ``rng`` (a ``numpy.random.Generator``).

    >>> import numpy as np
    >>> from unmask.train.augment import default_channel_chain
    >>> chain = default_channel_chain(sample_rate=16000)
    >>> out = chain(np.zeros(16000, dtype=np.float32), np.random.default_rng(0))
    >>> out.shape, out.dtype
    ((16000,), dtype('float32'))
"""

from unmask.train.augment.base import Augmentation, AugmentationConfigError
from unmask.train.augment.chain import (
    AUGMENTATIONS,
    DEFAULT_CHANNEL_CHAIN,
    Compose,
    RandomApply,
    RandomChoice,
    build_augmentation,
    default_channel_chain,
)
from unmask.train.augment.channel import BandLimit, Gain, Resample
from unmask.train.augment.codecs import CODECS, CodecRoundTrip, available_codecs
from unmask.train.augment.noise import AddNoise, coloured_noise
from unmask.train.augment.rawboost import (
    ISDAdditiveNoise,
    LnLConvolutiveNoise,
    RawBoost,
    SSIAdditiveNoise,
)
from unmask.train.augment.reverb import Reverb, synthetic_rir

__all__ = [
    "AUGMENTATIONS", "CODECS", "DEFAULT_CHANNEL_CHAIN", "AddNoise", "Augmentation", "AugmentationConfigError",
    "BandLimit", "CodecRoundTrip", "Compose", "Gain", "ISDAdditiveNoise", "LnLConvolutiveNoise",
    "RandomApply", "RandomChoice", "RawBoost", "Resample", "Reverb", "SSIAdditiveNoise", "available_codecs",
    "build_augmentation", "coloured_noise", "default_channel_chain", "synthetic_rir",
]
