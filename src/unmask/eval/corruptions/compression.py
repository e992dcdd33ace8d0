"""Lossy codec round-trips (encode, decode, re-align, same rate and length) via :mod:`unmask.signal.codecs`.

Codecs with a bitrate setting get a falling-bitrate ladder. Settings where an encoder switches mode and
gets *better* on speech at a lower bitrate (FFmpeg AAC at 48 kbit/s at 16 kHz, Opus 16 vs 12 kbit/s, LAME
64 vs 48 kbit/s at 16 kHz: measured waveform SNR) are left out, so every ladder is monotone.

Fixed-rate telephony codecs (G.711, G.722, GSM full rate) have no bitrate to turn, so their severity is the
*level into the codec*: the clip is attenuated before encoding and the gain restored after decoding, as for
a quiet talker whose call is normalised afterwards. Their quantiser step sizes are fixed, so the coding
noise grows relative to the signal as the level falls (measured on speech-like input, SNR falls from ~37 dB
to ~10 dB for G.711).

Codecs run at the input rate when they support it (MP3, AAC, Opus, Vorbis at 16 kHz), else at their
only rate (8 kHz for AMR-NB, G.711, G.726, GSM; 16 kHz for G.722): those also band-limit what they carry.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from unmask.eval.corruptions.base import Corruption
from unmask.signal import codec_round_trip
from unmask.signal.codecs import CODECS

LEVEL_LADDER_DB = (0.0, -25.0, -35.0, -45.0)


def _bitrate_codec(codec: str):
    def run(x: np.ndarray, rate: int, p: Mapping[str, Any], rng: np.random.Generator, pool) -> np.ndarray:
        return codec_round_trip(x, rate, codec, p["bitrate"])
    return run


def _level_codec(codec: str):
    def run(x: np.ndarray, rate: int, p: Mapping[str, Any], rng: np.random.Generator, pool) -> np.ndarray:
        gain = 10.0 ** (p["input_level_db"] / 20.0)
        return codec_round_trip(x * gain, rate, codec) / gain
    return run


def _mp3_then_aac(x: np.ndarray, rate: int, p: Mapping[str, Any], rng: np.random.Generator,
                  pool) -> np.ndarray:
    return codec_round_trip(codec_round_trip(x, rate, "mp3", p["mp3_bitrate"]), rate, "aac", p["aac_bitrate"])


def _kbps(bitrate: int) -> str:
    return f"{bitrate / 1000:g} kbit/s"


def _bitrate_corruption(name: str, codec: str, what: str, bitrates: tuple[int, ...]) -> Corruption:
    return Corruption(name, "compression", f"{what} round trip at falling bitrates.",
                      tuple({"codec": codec, "bitrate": b} for b in bitrates), _bitrate_codec(codec),
                      lambda p: _kbps(p["bitrate"]))


def _level_corruption(name: str, codec: str) -> Corruption:
    return Corruption(name, "compression",
                      f"{CODECS[codec].description} round trip; fixed bitrate, so severity is the level into "
                      "the codec (gain restored after decoding).",
                      tuple({"codec": codec, "input_level_db": d} for d in LEVEL_LADDER_DB),
                      _level_codec(codec),
                      lambda p: f"input level {p['input_level_db']:g} dB")


COMPRESSION_CORRUPTIONS = (
    _bitrate_corruption("mp3", "mp3", "MP3 (LAME, PyAV), at the input rate,",
                        (64000, 32000, 24000, 16000, 8000)),
    _bitrate_corruption("aac", "aac", "AAC-LC (FFmpeg native, PyAV), at the input rate,",
                        (64000, 32000, 24000, 16000, 12000)),
    _bitrate_corruption("opus", "opus", "Opus (libopus, PyAV), at the input rate (else the next one up),",
                        (32000, 20000, 10000, 6000)),
    _bitrate_corruption("vorbis", "vorbis", "Vorbis (libvorbis via the ffmpeg CLI), at the input rate,",
                        (64000, 48000, 32000, 24000, 16000)),
    _bitrate_corruption("amr-nb", "amr_nb", "AMR-NB (libopencore_amrnb, PyAV), 8 kHz,",
                        (12200, 10200, 7400, 5900, 4750)),
    _bitrate_corruption("g726", "g726", "G.726 ADPCM (PyAV), 8 kHz,", (40000, 32000, 24000, 16000)),
    _level_corruption("gsm", "gsm"),
    _level_corruption("g711-mulaw", "mulaw"),
    _level_corruption("g711-alaw", "alaw"),
    _level_corruption("g722", "g722"),
    Corruption("mp3-aac", "compression",
               "Double compression: MP3 then AAC (a transcoded upload), both bitrates falling.",
               tuple({"mp3_bitrate": m, "aac_bitrate": a} for m, a in
                     ((64000, 64000), (32000, 32000), (24000, 24000), (16000, 16000), (8000, 12000))),
               _mp3_then_aac, lambda p: f"MP3 {_kbps(p['mp3_bitrate'])} then AAC {_kbps(p['aac_bitrate'])}"),
)
