"""Offline fakes for training: copy-synthesis of real speech through vocoders, and classic TTS engines.

Copy-synthesis (:func:`synthesize_copy`) is the first-class recipe: every real clip is analysed and rebuilt
by a vocoder, giving a fake twin with the same speaker, words and recording channel, so the only thing a
detector can learn from the pair is the vocoder's fingerprint rather than the quirks of one corpus.
Systems: ``world``, ``world-coarse`` (WORLD), ``griffinlim``, ``griffinlim-mel`` (Griffin-Lim), ``lpc``;
with trained checkpoints (:mod:`unmask.data.synthesize.vocoders`): ``melgan``, ``hifigan``,
``upsample-conv``, ``subpixel``, ``istft``, ``codec-rvq-2/4/8``.
"""

from unmask.data.synthesize.base import CopySystem, SynthesisError, match_level
from unmask.data.synthesize.griffinlim import GriffinLim
from unmask.data.synthesize.lpc import LpcVocoder
from unmask.data.synthesize.runner import (
    ItemOutcome,
    SynthesisFailure,
    SynthesisResult,
    item_rng,
    synthesize_copy,
    synthesize_tts,
    vocoder_recipe_systems,
)
from unmask.data.synthesize.systems import COPY_SYSTEMS, copy_system_names, get_copy_system
from unmask.data.synthesize.texts import HARVARD_SENTENCES, read_texts
from unmask.data.synthesize.tts import TtsVoice, available_voices, installed_engines, missing_engines
from unmask.data.synthesize.vocoders import NeuralVocoderSystem, neural_system_names, train_vocoder
from unmask.data.synthesize.world import WorldVocoder

__all__ = [
    "COPY_SYSTEMS",
    "HARVARD_SENTENCES",
    "CopySystem",
    "GriffinLim",
    "ItemOutcome",
    "LpcVocoder",
    "NeuralVocoderSystem",
    "SynthesisError",
    "SynthesisFailure",
    "SynthesisResult",
    "TtsVoice",
    "WorldVocoder",
    "available_voices",
    "copy_system_names",
    "get_copy_system",
    "installed_engines",
    "item_rng",
    "match_level",
    "missing_engines",
    "neural_system_names",
    "read_texts",
    "synthesize_copy",
    "synthesize_tts",
    "train_vocoder",
    "vocoder_recipe_systems",
]
