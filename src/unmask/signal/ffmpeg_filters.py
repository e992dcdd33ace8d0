"""Run a chain of FFmpeg audio filters over a mono waveform in-process (PyAV's filter graph).

Tempo, pitch and loudness processing are FFmpeg's own filters (``atempo``, ``asetrate``, ``loudnorm``):
well-kept implementations that platforms use, so ours need not be written by hand.
"""

from __future__ import annotations

from fractions import Fraction

import av
import av.filter
import numpy as np


def run_filters(x: np.ndarray, rate: int, chain: list[tuple[str, str]]) -> np.ndarray:
    """``x`` (mono, at ``rate``) through the filters ``[(name, args), ...]`` in order; float64 out.

    The output rate is whatever the last filter leaves, so a chain that changes the rate ends with
    ``aresample``."""
    graph = av.filter.Graph()
    node = graph.add_abuffer(format="flt", sample_rate=rate, layout="mono", time_base=f"1/{rate}")
    source = node
    for name, args in chain:
        nxt = graph.add(name, args)
        node.link_to(nxt)
        node = nxt
    sink = graph.add("abuffersink")
    node.link_to(sink)
    graph.configure()
    frame = av.AudioFrame.from_ndarray(x.astype(np.float32)[None, :], format="flt", layout="mono")
    frame.sample_rate = rate
    frame.pts = 0
    frame.time_base = Fraction(1, rate)
    source.push(frame)
    source.push(None)
    parts = []
    while True:
        try:
            out = sink.pull()
        except (av.error.EOFError, av.error.BlockingIOError):
            break
        parts.append(out.to_ndarray().reshape(-1))
    return np.concatenate(parts).astype(np.float64) if parts else np.zeros(0)
