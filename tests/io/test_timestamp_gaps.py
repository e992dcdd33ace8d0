"""Timestamp gaps: lost audio is filled with silence, codec timestamp jitter is not (unmask.io.decode)."""

from __future__ import annotations

import subprocess
import warnings
from pathlib import Path

import av
import numpy as np
import pytest
import soundfile as sf

from unmask.io import MediaWarning, load_audio

RATE = 44100


def _music_with_transients(path: Path, seconds: float = 12.0) -> Path:
    """A tone with noise bursts: the bursts make Vorbis switch between long and short blocks."""
    t = np.arange(int(seconds * RATE)) / RATE
    x = 0.2 * np.sin(2 * np.pi * 220 * t)
    rng = np.random.default_rng(0)
    for start in range(0, len(t) - 200, RATE // 7):
        x[start : start + 200] += 0.8 * rng.standard_normal(200)
    sf.write(path, np.stack([x, x], axis=1).astype(np.float32), RATE)
    return path


def _vorbis(tmp_path: Path) -> Path:
    wav = _music_with_transients(tmp_path / "music.wav")
    ogg = tmp_path / "music.ogg"
    command = ["ffmpeg", "-y", "-v", "error", "-i", str(wav), "-c:a", "libvorbis", "-q:a", "5", str(ogg)]
    subprocess.run(command, check=True)
    return ogg


def _decode_quietly(path: Path) -> tuple[np.ndarray, list[str]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", MediaWarning)
        wave = load_audio(path, 16000)
    return wave, [str(w.message) for w in caught if issubclass(w.category, MediaWarning)]


def test_vorbis_block_switch_jitter_is_not_a_gap(tmp_path):
    ogg = _vorbis(tmp_path)
    with av.open(str(ogg)) as container:  # the file does have frames stamped off the sample clock
        frames = [(f.pts, f.samples) for f in container.decode(audio=0)]
    jitter = sum(1 for (p0, n0), (p1, _) in zip(frames, frames[1:], strict=False) if p1 != p0 + n0)
    assert jitter > 0
    wave, messages = _decode_quietly(ogg)
    assert messages == []
    assert len(wave) == pytest.approx(12.0 * 16000, abs=16)  # was 0.8 s longer: silence filled in


def test_lost_packets_are_filled_with_silence_and_reported(tmp_path):
    ogg = _vorbis(tmp_path)
    damaged = tmp_path / "lost.mka"  # Matroska keeps each packet's own timestamp when some are left out
    with av.open(str(ogg)) as source, av.open(str(damaged), "w") as sink:
        stream = sink.add_stream_from_template(source.streams.audio[0])
        for number, packet in enumerate(source.demux(audio=0)):
            if packet.dts is None or 200 <= number < 240:  # drop 40 packets from the middle
                continue
            packet.stream = stream
            sink.mux(packet)
    wave, messages = _decode_quietly(damaged)
    assert any("timestamp gap" in m for m in messages)
    assert len(wave) == pytest.approx(12.0 * 16000, abs=0.05 * 16000)  # the clock stays the file's
