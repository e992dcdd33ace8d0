"""Every way a media file can be unusable gives a MediaError naming the file; damage decoded around warns."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from media_fixtures import SOURCE_RATE, aligned_snr_db, chirp_tone, encode_with_pyav

from unmask.errors import MediaError
from unmask.io import MediaLimits, MediaWarning, iter_windows, load_audio, probe_audio, save_audio


def _raises(path: Path, match: str, **kwargs) -> MediaError:
    with pytest.raises(MediaError, match=match) as info:
        load_audio(path, **kwargs)
    assert str(path) in str(info.value) and info.value.path == str(path)
    assert info.value.hint, "every MediaError should say what to do"
    return info.value


@pytest.fixture(scope="module")
def mp3_file(tmp_path_factory) -> Path:
    return encode_with_pyav(tmp_path_factory.mktemp("err") / "a.mp3", chirp_tone(), SOURCE_RATE, "libmp3lame")


@pytest.fixture(scope="module")
def webm_file(tmp_path_factory) -> Path:
    return encode_with_pyav(tmp_path_factory.mktemp("err") / "a.webm", chirp_tone(), SOURCE_RATE, "libopus",
                            encode_rate=48000)


def test_missing_file(tmp_path):
    _raises(tmp_path / "nope.wav", "file not found")


def test_directory(tmp_path):
    _raises(tmp_path, "is a directory")


def test_broken_symlink_and_link_loop_say_so(tmp_path):
    dangling = tmp_path / "gone.wav"
    dangling.symlink_to(tmp_path / "moved-away.wav")
    err = _raises(dangling, "broken symbolic link")
    assert "moved-away.wav" in err.reason
    loop = tmp_path / "loop.wav"
    loop.symlink_to(loop)
    _raises(loop, "symbolic link loop")


@pytest.mark.parametrize("bits", [0, 1000])
def test_a_stream_without_a_decoder_is_a_media_error(tmp_path, bits):
    from corrupt_corpus import wav_bytes

    path = tmp_path / f"bits-{bits}.wav"  # the corpus found these leaking AttributeError from PyAV
    path.write_bytes(wav_bytes(bits=bits, frames=10))
    _raises(path, "codec is unknown or cannot be decoded")
    with pytest.raises(MediaError, match="cannot be decoded"):
        probe_audio(path)


def test_special_files_are_refused_before_opening(tmp_path):
    import os

    fifo = tmp_path / "pipe.wav"
    os.mkfifo(fifo)  # opening it would block until a writer came along
    _raises(fifo, "not a regular file")


def test_stat_errors_become_media_errors(tmp_path, monkeypatch):
    path = tmp_path / "locked" / "a.wav"
    real_stat = Path.stat

    def denied(self, *args, **kwargs):
        if self == path:
            raise PermissionError(13, "Permission denied")
        return real_stat(self, *args, **kwargs)

    monkeypatch.setattr(Path, "stat", denied)
    _raises(path, "permission denied")


def test_empty_file(tmp_path):
    path = tmp_path / "empty.mp3"
    path.touch()
    _raises(path, "empty file")


@pytest.mark.parametrize("name", ["notes.txt", "notes.wav", "notes.mp3", "notes"])
def test_text_file_is_not_media(tmp_path, name):
    path = tmp_path / name
    path.write_text("this is a shopping list, not a recording\n" * 40)
    err = _raises(path, "not a (recognised )?media file")
    assert "damaged" in err.reason or "no audio or video" in err.reason


def test_video_without_audio(tmp_path):
    path = encode_with_pyav(tmp_path / "silent.mp4", None, SOURCE_RATE, None, video_codec="libx264",
                            video_seconds=1.0)
    _raises(path, "no audio stream.*video")
    with pytest.raises(MediaError, match="no audio stream"):
        probe_audio(path)


def test_audio_stream_with_no_samples(tmp_path):
    path = tmp_path / "zero.wav"
    sf.write(path, np.zeros((0,), dtype=np.float32), 16000)
    assert path.stat().st_size > 0  # a valid header, zero frames
    _raises(path, "no audio samples")


def test_start_past_the_end(mp3_file):
    _raises(mp3_file, "past the end", start_s=10.0)


def test_over_the_size_limit(mp3_file):
    _raises(mp3_file, "over the 0 MiB limit", limits=MediaLimits(max_bytes=1000))


def test_over_the_duration_limit_from_the_header(mp3_file):
    _raises(mp3_file, "duration limit", limits=MediaLimits(max_duration_s=2.0))
    # A slice within the limit is fine: the limit bounds the work of one request.
    assert len(load_audio(mp3_file, duration_s=1.5, limits=MediaLimits(max_duration_s=2.0))) == 24000


def _understate_matroska_duration(path: Path, seconds: float) -> None:
    """Rewrite the Segment Info Duration element (ID 0x4489, float, milliseconds) to lie."""
    data = bytearray(path.read_bytes())
    at = data.find(b"\x44\x89\x88")  # 8-byte float
    size, fmt = 8, ">d"
    if at < 0:
        at, size, fmt = data.find(b"\x44\x89\x84"), 4, ">f"
    assert at >= 0, "no Duration element found"
    data[at + 3 : at + 3 + size] = struct.pack(fmt, seconds * 1000)
    path.write_bytes(bytes(data))


def test_duration_limit_holds_when_the_header_lies(tmp_path, webm_file):
    lying = tmp_path / "lying.webm"
    lying.write_bytes(webm_file.read_bytes())
    _understate_matroska_duration(lying, 0.5)
    assert probe_audio(lying).duration_s == pytest.approx(0.5, abs=0.01)
    _raises(lying, "runs past the 1 s duration limit", limits=MediaLimits(max_duration_s=1.0))
    with pytest.raises(MediaError, match="duration limit"):
        list(iter_windows(lying, 0.5, 0.5, limits=MediaLimits(max_duration_s=1.0)))


def test_destroyed_header_is_an_error(tmp_path):
    rng = np.random.default_rng(1)
    for codec, name in [("flac", "a.flac"), ("aac", "a.m4a"), ("pcm_s16le", "a.wav"), ("libopus", "a.ogg")]:
        path = encode_with_pyav(tmp_path / name, chirp_tone(), SOURCE_RATE, codec,
                                encode_rate=48000 if codec == "libopus" else None)
        data = bytearray(path.read_bytes())
        data[:512] = rng.integers(0, 256, 512, dtype=np.uint8).tobytes()
        path.write_bytes(bytes(data))
        _raises(path, "header")


def test_truncated_file_decodes_the_head_with_a_warning(tmp_path, webm_file, mp3_file):
    for source in (webm_file, mp3_file):
        path = tmp_path / f"cut{source.suffix}"
        data = source.read_bytes()
        path.write_bytes(data[: len(data) // 2])
        with pytest.warns(MediaWarning, match=r"truncated") as record:
            wave = load_audio(path)
        assert str(path) in str(record[0].message)
        assert 1.0 < len(wave) / 16000 < 2.0 and np.isfinite(wave).all()
        _raises(path, "corrupt stream.*truncated", strict=True)


def test_truncated_mp4_without_its_index_is_an_error(tmp_path):
    path = encode_with_pyav(tmp_path / "a.m4a", chirp_tone(), SOURCE_RATE, "aac")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])  # the moov index sits at the end
    _raises(path, "index is damaged or missing")


def test_garbage_mid_stream_keeps_the_timeline_and_warns(tmp_path):
    source = encode_with_pyav(tmp_path / "a.m4a", chirp_tone(), SOURCE_RATE, "aac")
    clean = load_audio(source)
    data = bytearray(source.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 2000] = np.random.default_rng(2).integers(0, 256, 2000, dtype=np.uint8).tobytes()
    path = tmp_path / "garbage.m4a"
    path.write_bytes(bytes(data))
    with pytest.warns(MediaWarning, match="undecodable packet.*silence"):
        wave = load_audio(path)
    # The lost packets become silence of their duration, so what follows stays where it was (to within the
    # sample or two a restarted resampler shifts), instead of moving earlier by the lost 0.26 s.
    assert abs(len(wave) - len(clean)) <= 2
    snr, lag = aligned_snr_db(wave[-9000:-1000], clean[-9000:-1000], max_lag=50)
    assert abs(lag) <= 2 and snr > 20, (snr, lag)
    _raises(path, "corrupt stream", strict=True)


def test_non_finite_float_wav_samples_become_zero_with_a_warning(tmp_path):
    wave = chirp_tone(1.0, 16000)
    wave[100:110] = np.nan
    wave[200] = np.inf
    path = tmp_path / "nan.wav"
    sf.write(path, wave, 16000, subtype="FLOAT")
    with pytest.warns(MediaWarning, match="11 non-finite"):
        out = load_audio(path)
    assert np.isfinite(out).all() and (out[100:110] == 0).all()


def test_invalid_arguments_are_value_errors(mp3_file):
    for kwargs in ({"sample_rate": 0}, {"start_s": -1.0}, {"duration_s": 0.0}):
        with pytest.raises(ValueError):
            load_audio(mp3_file, **kwargs)


def test_save_audio_round_trips_and_leaves_no_temporary_file(tmp_path):
    wave = chirp_tone(1.0, 16000)
    for name, atol in [("out.wav", 1 / 32768), ("sub/out.flac", 1 / 32768)]:
        path = save_audio(tmp_path / name, wave, 16000)
        np.testing.assert_allclose(load_audio(path), wave, atol=atol)
    path = save_audio(tmp_path / "f.wav", wave, 16000, subtype="FLOAT")
    np.testing.assert_array_equal(load_audio(path), wave)
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == ["f.wav", "out.flac", "out.wav"]


def test_save_audio_refuses_other_formats_and_bad_data(tmp_path):
    with pytest.raises(MediaError, match="cannot save as '.mp3'"):
        save_audio(tmp_path / "x.mp3", np.zeros(10), 16000)
    with pytest.raises(ValueError, match="NaN"):
        save_audio(tmp_path / "x.wav", np.array([0.0, np.nan]), 16000)
    assert not list(tmp_path.iterdir())


def test_save_audio_failure_keeps_the_old_file(tmp_path, monkeypatch):
    path = save_audio(tmp_path / "keep.wav", np.zeros(100), 16000)
    before = path.read_bytes()

    def broken_write(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(sf, "write", broken_write)
    with pytest.raises(OSError, match="disk full"):
        save_audio(path, np.ones(100) * 0.5, 16000)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["keep.wav"]
