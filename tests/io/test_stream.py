"""Streaming windows and chunks: same samples as load_audio, the documented tail policy, bounded buffers."""

from __future__ import annotations

import numpy as np
import pytest
from media_fixtures import SOURCE_RATE, chirp_tone, encode_with_pyav

from unmask.io import array_windows, iter_chunks, iter_windows, load_audio
from unmask.io.stream import _SampleBuffer


@pytest.fixture(scope="module", params=[("a.mp3", "libmp3lame"), ("a.flac", "flac"), ("a.opus", "libopus")])
def long_file(request, tmp_path_factory):
    """10.3 s, so 2 s windows leave a partial tail."""
    name, codec = request.param
    wave = np.tile(chirp_tone(), 4)[: int(10.3 * SOURCE_RATE)]
    return encode_with_pyav(tmp_path_factory.mktemp("stream") / name, wave, SOURCE_RATE, codec,
                            encode_rate=48000 if codec == "libopus" else None)


def test_non_overlapping_windows_reproduce_load_audio(long_file):
    whole = load_audio(long_file)
    windows = list(iter_windows(long_file, 2.0, 2.0))
    regular = [w for w in windows if w.samples.size == 32000 and w.start_s % 2.0 == 0]
    joined = np.concatenate([w.samples for w in regular])
    # Same decoder, same resampler, same blocks: identical, not merely close.
    np.testing.assert_array_equal(joined, whole[: len(joined)])
    tail = windows[-1]
    assert tail.end_s == pytest.approx(len(whole) / 16000)
    np.testing.assert_array_equal(tail.samples, whole[-32000:])


def test_overlapping_windows_have_the_right_starts_and_content(long_file):
    whole = load_audio(long_file)
    windows = list(iter_windows(long_file, 4.0, 2.0))
    total = len(whole)
    regular = [0.0, 2.0, 4.0, 6.0]  # 8 + 4 = 12 > 10.3 s, so 6.0 is the last full hop
    assert [w.start_s for w in windows[:-1]] == regular
    assert windows[-1].start_s == pytest.approx((total - 64000) / 16000)  # shifted back to end at the end
    for w in windows:
        assert w.samples.shape == (64000,) and w.samples.dtype == np.float32
        start = round(w.start_s * 16000)
        assert w.end_s == pytest.approx(w.start_s + 4.0)
        np.testing.assert_array_equal(w.samples, whole[start : start + 64000])


def test_every_sample_is_covered_once_the_tail_is_added(long_file):
    total = len(load_audio(long_file))
    covered = np.zeros(total, dtype=bool)
    for w in iter_windows(long_file, 3.0, 3.0):
        covered[round(w.start_s * 16000) : round(w.end_s * 16000)] = True
    assert covered.all()


def test_no_tail_window_when_the_hops_end_exactly_at_the_end(tmp_path):
    path = encode_with_pyav(tmp_path / "six.wav", chirp_tone(6.0, 16000), 16000, "pcm_s16le")
    windows = list(iter_windows(path, 2.0, 1.0))
    assert [w.start_s for w in windows] == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert len({w.start_s for w in windows}) == len(windows)


def test_a_file_shorter_than_one_window_gives_one_short_window(tmp_path):
    path = encode_with_pyav(tmp_path / "short.wav", chirp_tone(1.5, 16000), 16000, "pcm_s16le")
    (only,) = list(iter_windows(path, 4.0, 2.0))
    assert (only.start_s, only.end_s, only.samples.size) == (0.0, 1.5, 24000)


def test_chunks_concatenate_to_load_audio(long_file):
    whole = load_audio(long_file)
    chunks = list(iter_chunks(long_file, 16000, chunk_s=3.0))
    assert [c.size for c in chunks[:-1]] == [48000] * (len(chunks) - 1) and 0 < chunks[-1].size <= 48000
    np.testing.assert_array_equal(np.concatenate(chunks), whole)


def test_bad_window_arguments(long_file):
    with pytest.raises(ValueError, match="must not exceed"):
        next(iter_windows(long_file, 1.0, 2.0))
    with pytest.raises(ValueError, match="at least one sample"):
        next(iter_windows(long_file, 0.0, 0.0))


def test_sample_buffer_stays_bounded_while_streaming():
    buffer = _SampleBuffer(1000)
    rng = np.random.default_rng(0)
    stream = rng.standard_normal(200_000).astype(np.float32)
    position = 0
    while position < len(stream):
        block = stream[position : position + int(rng.integers(1, 400))]
        buffer.append(block)
        position += len(block)
        buffer.discard_before(buffer.end - 500)  # keep the last 500 samples, like a window
        np.testing.assert_array_equal(buffer.copy(max(0, buffer.end - 500), buffer.end),
                                      stream[max(0, position - 500) : position])
    assert len(buffer._data) <= 2000  # grew at most once past its capacity, not with the stream
    with pytest.raises(IndexError):
        buffer.copy(0, 10)


@pytest.mark.parametrize(("window_s", "hop_s"), [(2.0, 2.0), (2.0, 0.7), (4.0, 1.0), (20.0, 5.0)])
def test_array_windows_match_streaming_windows(long_file, window_s, hop_s):
    """One windowing policy for files and in-memory waveforms: same spans, same samples."""
    streamed = list(iter_windows(long_file, window_s, hop_s))
    in_memory = list(array_windows(load_audio(long_file), window_s, hop_s))
    assert [(w.start_s, w.end_s) for w in in_memory] == [(w.start_s, w.end_s) for w in streamed]
    for a, b in zip(in_memory, streamed, strict=True):
        np.testing.assert_array_equal(a.samples, b.samples)
    with pytest.raises(ValueError, match="must not exceed"):
        list(array_windows(np.zeros(100, dtype=np.float32), 0.001, 0.002))
