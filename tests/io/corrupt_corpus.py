"""A corpus of damaged media, made from clean clips of every container/codec we decode, and a runner that
scans each file in a watched worker process.

Kinds of damage (``KINDS``): truncation inside the header, at a packet boundary and mid-packet; bit flips;
runs of zero bytes; a wrong extension; header fields claiming absurd values (sample rate, channel count,
duration, sizes); audio streams of zero length; videos without audio. Every file must end as a score or an
error row: the runner records ``score``, ``error`` (an error row), ``crash`` (the worker died, or an exception
escaped ``Detector.scan``) or ``hang`` (no answer within the time bound; the worker is killed and replaced).

Used by ``tests/io/test_corrupt_corpus.py`` and ``scripts/corrupt_corpus_report.py`` (the Markdown table).
Run as ``python corrupt_corpus.py --worker`` it is the worker: paths on stdin, one JSON line per path out.
"""

from __future__ import annotations

import json
import math
import os
import select
import shutil
import struct
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

KINDS = ("clean (control)", "truncated-header", "truncated-at-packet", "truncated-mid-packet", "bit-flips",
         "zero-runs", "wrong-extension", "absurd-header", "zero-length-stream", "video-without-audio")
OUTCOMES = ("score", "error", "crash", "hang")
TIMEOUT_S = 20.0  # per file; a 3 s clip decodes and scores in well under a second


@dataclass(frozen=True)
class Case:
    kind: str
    path: Path
    source: str  # the clean clip's format, or what was built


@dataclass(frozen=True)
class Outcome:
    case: Case
    outcome: str  # one of OUTCOMES
    detail: str
    seconds: float


# ------------------------------------------------------------------------------------ building the corpus
def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _packet_spans(path: Path) -> list[tuple[int, int]]:
    """(byte offset, size) of the audio packets PyAV demuxes from a clean file."""
    import av

    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        packets = container.demux(stream)
        return [(p.pos, p.size) for p in packets if p.size and p.pos is not None and p.pos >= 0]


def damaged_copies(clean: Path, fmt: str, out: Path, seed: int) -> list[Case]:
    """Truncations, bit flips, zero runs and a wrong extension of one clean file."""
    data = clean.read_bytes()
    size = len(data)
    rng = np.random.default_rng(seed)
    stem, suffix = f"{fmt}", clean.suffix
    spans = _packet_spans(clean)
    first = min((pos for pos, _ in spans), default=size // 10)
    header_cuts = sorted({c for c in (4, 12, 44, first // 2, first - 1) if 0 < c < min(first, size)})
    packet_cuts, mid_cuts = set(), set()
    for quantile in (0.1, 0.5, 0.9):
        if spans:
            pos, length = spans[min(len(spans) - 1, int(quantile * len(spans)))]
            packet_cuts.add(pos)
            mid_cuts.add(pos + max(1, length // 2))
        else:
            packet_cuts.add(int(quantile * size))
    mid_cuts.add(size - 1)  # the last byte missing
    cases = []
    for kind, cuts in (("truncated-header", header_cuts), ("truncated-at-packet", packet_cuts),
                       ("truncated-mid-packet", mid_cuts)):
        for cut in sorted(c for c in cuts if 0 < c < size):
            cases.append(Case(kind, _write(out / f"{stem}.cut{cut}{suffix}", data[:cut]), fmt))
    for name, region, flips in (("head", (0, max(first, 64)), 3), ("body", (first, size), 16),
                                ("many", (0, size), 200)):
        lo, hi = region
        if hi <= lo:
            continue
        damaged = bytearray(data)
        for at in rng.integers(lo, hi, size=flips):
            damaged[at] ^= 1 << int(rng.integers(0, 8))
        cases.append(Case("bit-flips", _write(out / f"{stem}.flip-{name}{suffix}", bytes(damaged)), fmt))
    for name, start, length in (("header", 0, min(64, size)), ("mid", size // 2, 512),
                                ("tenth", size // 3, size // 10)):
        damaged = bytearray(data)
        damaged[start : start + length] = bytes(len(damaged[start : start + length]))
        cases.append(Case("zero-runs", _write(out / f"{stem}.zeros-{name}{suffix}", bytes(damaged)), fmt))
    return cases


def wrong_extensions(cleans: Sequence[tuple[str, Path]], out: Path) -> list[Case]:
    """Each clean file under the next one's extension (wav named .mp3, mp3 named .flac, ...), and as .txt."""
    cases = []
    for i, (fmt, path) in enumerate(cleans):
        other = cleans[(i + 1) % len(cleans)][1].suffix
        if other == path.suffix:
            other = ".wav" if path.suffix != ".wav" else ".mp3"
        for suffix in (other, ".txt"):
            target = out / f"{fmt}.as{suffix}"
            shutil.copyfile(path, target)
            cases.append(Case("wrong-extension", target, fmt))
    return cases


def wav_bytes(rate: int = 16000, channels: int = 1, bits: int = 16, frames: int = 1600, *,
              data_size: int | None = None, byte_rate: int | None = None,
              block_align: int | None = None) -> bytes:
    """A PCM WAV whose header fields can be set to anything (sizes clipped to their 32/16-bit fields)."""
    block = block_align if block_align is not None else channels * bits // 8
    data = bytes(max(0, frames * channels * bits // 8))
    claimed = len(data) if data_size is None else data_size
    rate_field = byte_rate if byte_rate is not None else rate * max(block, 0)
    fmt = struct.pack("<IHHIIHH", 16, 1, channels & 0xFFFF, rate & 0xFFFFFFFF, rate_field & 0xFFFFFFFF,
                      block & 0xFFFF, bits & 0xFFFF)
    riff = min(36 + claimed, 2**32 - 1)
    return b"RIFF" + struct.pack("<I", riff) + b"WAVE" + b"fmt " + fmt + b"data" + struct.pack(
        "<I", min(claimed, 2**32 - 1)) + data


def aiff_bytes(rate: float, channels: int = 1, frames_claimed: int = 1600, frames: int = 1600) -> bytes:
    """A PCM AIFF whose COMM chunk says ``rate`` (an 80-bit float: any value) and ``frames_claimed``."""
    exponent = math.floor(math.log2(rate))
    extended = struct.pack(">HQ", exponent + 16383, int(rate / 2**exponent * 2**63))
    comm = b"COMM" + struct.pack(">IhIh", 18, channels, min(frames_claimed, 2**32 - 1), 16) + extended
    data = bytes(frames * channels * 2)
    ssnd = b"SSND" + struct.pack(">III", 8 + len(data), 0, 0) + data
    body = b"AIFF" + comm + ssnd
    return b"FORM" + struct.pack(">I", len(body)) + body


def _patch_flac_streaminfo(data: bytes, *, rate: int | None = None, channels: int | None = None,
                           total_samples: int | None = None) -> bytes:
    """Rewrite fields of FLAC's STREAMINFO (bytes 18-25 of the file: 20-bit rate, 3-bit channels-1, 5-bit
    bits-1, 36-bit total samples)."""
    block = bytearray(data)
    packed = int.from_bytes(block[18:26], "big")
    old_rate, old_channels = packed >> 44, (packed >> 41) & 0x7
    old_bits, old_total = (packed >> 36) & 0x1F, packed & (2**36 - 1)
    packed = ((rate if rate is not None else old_rate) & 0xFFFFF) << 44
    packed |= ((channels - 1 if channels is not None else old_channels) & 0x7) << 41
    packed |= old_bits << 36
    packed |= (total_samples if total_samples is not None else old_total) & (2**36 - 1)
    block[18:26] = packed.to_bytes(8, "big")
    return bytes(block)


def _patch_mp4_mdhd(data: bytes, *, timescale: int | None = None, duration: int | None = None) -> bytes:
    """Rewrite the audio track's mdhd (version 0) timescale and/or duration."""
    block = bytearray(data)
    at = block.find(b"mdhd")
    if at < 0:
        return data
    fields = at + 4 + 4 + 8  # version/flags, creation and modification times
    if timescale is not None:
        block[fields : fields + 4] = struct.pack(">I", timescale & 0xFFFFFFFF)
    if duration is not None:
        block[fields + 4 : fields + 8] = struct.pack(">I", duration & 0xFFFFFFFF)
    return bytes(block)


def absurd_headers(cleans: dict[str, Path], out: Path) -> list[Case]:
    specs = {
        "wav-rate-0": wav_bytes(rate=0), "wav-rate-1": wav_bytes(rate=1),
        "wav-rate-2ghz": wav_bytes(rate=2 * 10**9), "wav-rate-4ghz": wav_bytes(rate=4 * 10**9),
        "wav-channels-0": wav_bytes(channels=0), "wav-channels-1000": wav_bytes(channels=1000),
        "wav-channels-65535": wav_bytes(channels=65535, frames=4),
        "wav-bits-0": wav_bytes(bits=0), "wav-bits-1000": wav_bytes(bits=1000, frames=10),
        "wav-byte-rate-0": wav_bytes(byte_rate=0), "wav-block-align-0": wav_bytes(block_align=0),
        "wav-claims-10h-at-4ghz": wav_bytes(rate=4 * 10**9, data_size=2**32 - 1),
        "wav-claims-4gib": wav_bytes(data_size=2**32 - 1),
        "aiff-rate-1hz": aiff_bytes(1), "aiff-rate-2ghz": aiff_bytes(2e9),
        "aiff-claims-10h": aiff_bytes(16000, frames_claimed=16000 * 36000),
        "aiff-claims-10h-at-2ghz": aiff_bytes(2e9, frames_claimed=2**32 - 1),
        "aiff-channels-100": aiff_bytes(16000, channels=100, frames_claimed=160, frames=160),
        "aiff-channels-0": aiff_bytes(16000, channels=0),
    }  # fmt: skip
    cases = [Case("absurd-header", _write(out / f"{name}.{name.split('-')[0]}", data), "built")
             for name, data in specs.items()]
    if "flac" in cleans:
        flac = cleans["flac"].read_bytes()
        for name, changes in (("rate-0", {"rate": 0}), ("rate-1", {"rate": 1}),
                              ("rate-max", {"rate": 2**20 - 1}), ("channels-8", {"channels": 8}),
                              ("samples-2^36", {"total_samples": 2**36 - 1})):
            patched = _patch_flac_streaminfo(flac, **changes)
            cases.append(Case("absurd-header", _write(out / f"flac-{name}.flac", patched), "flac"))
    if "m4a-aac" in cleans:
        mp4 = cleans["m4a-aac"].read_bytes()
        for name, changes in (("timescale-1", {"timescale": 1}), ("timescale-0", {"timescale": 0}),
                              ("duration-max", {"duration": 2**32 - 1})):
            patched = _patch_mp4_mdhd(mp4, **changes)
            cases.append(Case("absurd-header", _write(out / f"m4a-{name}.m4a", patched), "m4a-aac"))
    return cases


def zero_length_streams(out: Path) -> list[Case]:
    """Containers holding an audio stream and not one sample."""
    import av

    built = {"empty-data.wav": wav_bytes(frames=0), "zero-bytes.mp3": b"",
             "empty-ssnd.aiff": aiff_bytes(16000, frames_claimed=0, frames=0)}
    cases = [Case("zero-length-stream", _write(out / name, data), "built") for name, data in built.items()]
    for name, codec in (("flac", "flac"), ("m4a", "aac"), ("mkv", "aac"), ("ogg", "libopus"), ("mp3", "mp3")):
        path = out / f"no-samples.{name}"
        try:
            with av.open(str(path), "w") as container:
                stream = container.add_stream(codec, rate=48000 if codec == "libopus" else 16000)
                stream.layout = "mono"
                container.start_encoding()  # write the header: PyAV would otherwise wait for a packet
        except Exception:  # noqa: BLE001 - a build that cannot write this container: leave it out
            path.unlink(missing_ok=True)
            continue
        cases.append(Case("zero-length-stream", path, name))
    return cases


def videos_without_audio(out: Path, encode_with_pyav) -> list[Case]:
    cases = []
    for suffix, codec in ((".mp4", "libx264"), (".mkv", "mpeg4"), (".webm", "libvpx")):
        path = out / f"video-only{suffix}"
        try:
            encode_with_pyav(path, None, 16000, None, video_codec=codec, video_seconds=1.0)
        except Exception:  # noqa: BLE001
            path.unlink(missing_ok=True)
            continue
        cases.append(Case("video-without-audio", path, codec))
    return cases


def build_corpus(out: Path) -> tuple[list[Case], list[str]]:
    """Encode a 3 s chirp+tone clip in every format media_fixtures knows, damage each in every way; returns
    the cases and the formats that could not be encoded here (skipped, with the reason)."""
    import pytest
    from media_fixtures import FORMATS, SOURCE_RATE, chirp_tone, encode_format, encode_with_pyav

    out.mkdir(parents=True, exist_ok=True)
    clean_dir = out / "clean"
    clean_dir.mkdir(exist_ok=True)
    wave = chirp_tone()
    cleans: dict[str, Path] = {}
    skipped = []
    for spec in FORMATS:
        try:
            path = clean_dir / f"{spec.name}{spec.suffix}"
            cleans[spec.name] = encode_format(spec, path, wave, SOURCE_RATE)
        except pytest.skip.Exception as exc:
            skipped.append(f"{spec.name}: {exc}")
    cases = [Case("clean (control)", path, fmt) for fmt, path in cleans.items()]
    for seed, (fmt, path) in enumerate(cleans.items()):
        cases += damaged_copies(path, fmt, out, seed)
    cases += wrong_extensions(list(cleans.items()), out)
    cases += absurd_headers(cleans, out)
    cases += zero_length_streams(out)
    cases += videos_without_audio(out, encode_with_pyav)
    return cases, skipped


# ------------------------------------------------------------------------------------ running it
class _Worker:
    """One worker process; ``ask`` sends a path and waits at most ``timeout_s`` for its answer."""

    def __init__(self) -> None:
        env = os.environ | {"PYTHONPATH": os.pathsep.join([str(Path(__file__).parent), os.environ.get(
            "PYTHONPATH", "")])}
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--worker"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL, text=True, bufsize=1, env=env,
        )
        self._buffer = ""
        ready = self._line(120.0)  # importing torch takes a while on a busy machine
        if ready is None or json.loads(ready).get("ready") is not True:
            self.close()
            raise RuntimeError("corpus worker did not start")

    def _line(self, timeout_s: float) -> str | None:
        deadline = time.monotonic() + timeout_s
        stream = self.process.stdout
        while "\n" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            readable, _, _ = select.select([stream], [], [], left)
            if not readable:
                return None
            chunk = os.read(stream.fileno(), 65536).decode()
            if not chunk:  # the worker died
                return None
            self._buffer += chunk
        line, self._buffer = self._buffer.split("\n", 1)
        return line

    def ask(self, path: Path, timeout_s: float) -> tuple[str, str]:
        try:
            self.process.stdin.write(str(path) + "\n")
            self.process.stdin.flush()
        except BrokenPipeError:
            return "crash", "worker gone before the file was sent"
        line = self._line(timeout_s)
        if line is not None:
            answer = json.loads(line)
            return answer["outcome"], answer["detail"]
        if self.process.poll() is not None:
            return "crash", f"worker died (exit status {self.process.returncode})"
        return "hang", f"no answer within {timeout_s:g} s"

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()


def run_corpus(cases: Sequence[Case], workers: int = 2, timeout_s: float = TIMEOUT_S) -> list[Outcome]:
    """Scan every case in ``workers`` watched processes; a worker that crashes or hangs is replaced."""
    outcomes: list[Outcome | None] = [None] * len(cases)

    def supervise(indices: list[int]) -> None:
        worker: _Worker | None = None
        try:
            for i in indices:
                if worker is None:
                    worker = _Worker()
                started = time.monotonic()
                outcome, detail = worker.ask(cases[i].path, timeout_s)
                outcomes[i] = Outcome(cases[i], outcome, detail, time.monotonic() - started)
                if outcome in ("crash", "hang"):
                    worker.close()
                    worker = None
        finally:
            if worker is not None:
                worker.close()

    shares = [list(range(k, len(cases), workers)) for k in range(workers)]
    threads = [threading.Thread(target=supervise, args=(share,)) for share in shares if share]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return [o for o in outcomes if o is not None]


def tally(outcomes: Iterable[Outcome]) -> dict[str, Counter]:
    """Outcome counts per kind of damage, in KINDS order."""
    table = {kind: Counter() for kind in KINDS}
    for o in outcomes:
        table[o.case.kind][o.outcome] += 1
    return {kind: counts for kind, counts in table.items() if counts}


def markdown_table(outcomes: Sequence[Outcome]) -> str:
    rows = ["| bad-input kind | tried | score | error row | crash | hang |", "|---|---:|---:|---:|---:|---:|"]
    total = Counter()
    for kind, counts in tally(outcomes).items():
        tried = sum(counts.values())
        if kind != KINDS[0]:
            total.update(counts)
        rows.append(f"| {kind} | {tried} | " + " | ".join(str(counts[o]) for o in OUTCOMES) + " |")
    rows.append(f"| **all bad inputs** | **{sum(total.values())}** | "
                + " | ".join(f"**{total[o]}**" for o in OUTCOMES) + " |")
    return "\n".join(rows)


# ------------------------------------------------------------------------------------ the worker
def _worker() -> None:
    import warnings

    import torch

    from unmask.detect.calibration import Calibrator
    from unmask.detect.pipeline import Detector
    from unmask.models.base import DetectorModel

    torch.set_num_threads(1)
    warnings.simplefilter("ignore")  # MediaWarnings for damage decoded around: the result says enough

    class Probe(DetectorModel):
        """logit = 40 * (window RMS - 0.1): cheap, so the corpus measures decoding, not a network."""

        name = "corpus-probe"
        default_config = {"sample_rate": 16000, "window_s": 1.0}

        def forward(self, wave: torch.Tensor) -> torch.Tensor:
            return 40 * (wave.pow(2).mean(dim=-1).sqrt() - 0.1)

    detector = Detector(Probe(), Calibrator(), name="corpus-probe")
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        path = line.rstrip("\n")
        try:
            result = detector.scan(path)
            answer = {"outcome": "score" if result.ok else "error",
                      "detail": f"p={result.fake_probability:.3f}" if result.ok else result.error}
            if not result.ok and "unexpected error" in (result.error or ""):
                answer["outcome"] = "crash"  # an exception only the pipeline's last-resort handler caught
        except BaseException as exc:  # noqa: BLE001 - anything escaping scan() is a crash to report
            answer = {"outcome": "crash", "detail": f"{type(exc).__name__}: {exc}"}
        print(json.dumps(answer), flush=True)


if __name__ == "__main__" and "--worker" in sys.argv:
    _worker()
