"""Time each unmask.features front-end against its librosa equivalent on the same input, same process.

Usage: .venv/bin/python benchmarks/bench_features.py [--repeats 3]

Inputs: a batch of 16 x 4 s and one 60 s clip at 16 kHz (chirp + harmonics + noise). librosa runs item
by item on the batch (its usual use); torch runs the whole batch in one call. Both are limited to 2 threads.
Reported: best-of-N seconds for each and the ratio librosa / torch (> 1 means torch is faster).
LFCC has no librosa function; its reference is librosa.stft + the same filterbank/DCT in numpy +
a numpy edge-repeating delta, i.e. the obvious librosa-based implementation.

Then places where unmask computes something its own way, each against the direct torch way on the
same input: deltas as a sum of shifted rows vs ``F.conv1d``; the LFCC-GMM's log-sum-exp with far terms
floored vs ``torch.logsumexp``; and LFCC filterbank energies of 2 s windows every 1 s (the scan default)
with each STFT frame computed once (``LFCC.window_band_energies``) vs every window on its own.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable

os.environ.setdefault("OMP_NUM_THREADS", "2")

import librosa  # noqa: E402
import numpy as np  # noqa: E402
import scipy.fft  # noqa: E402
import scipy.signal  # noqa: E402
import torch  # noqa: E402

from unmask.features import build_feature, filters  # noqa: E402

SR = 16_000
STFT = dict(n_fft=512, win_length=400, hop_length=160)


def make_signal(seconds: float, seed: int) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    rng = np.random.default_rng(seed)
    chirp = 0.3 * scipy.signal.chirp(t, f0=100, t1=t[-1], f1=6000, method="logarithmic")
    tones = sum(0.1 / k * np.sin(2 * np.pi * 180 * k * t) for k in range(1, 6))
    return (chirp + tones + 0.01 * rng.standard_normal(len(t))).astype(np.float32)


def lfcc_librosa(y: np.ndarray, bank: np.ndarray) -> np.ndarray:
    y = np.concatenate([y[:1], y[1:] - 0.97 * y[:-1]])
    power = np.abs(librosa.stft(y, n_fft=512, win_length=320, hop_length=160, window="hamming")) ** 2
    static = scipy.fft.dct(np.log10(bank @ power + np.finfo(np.float32).eps), axis=0, norm="ortho")[:20]
    delta = librosa.feature.delta(static, width=3, mode="nearest") * 2.0
    return np.concatenate([static, delta, librosa.feature.delta(delta, width=3, mode="nearest") * 2.0])


def librosa_references() -> dict[str, Callable[[np.ndarray], np.ndarray]]:
    bank = filters.linear_filterbank(SR, 512, 20)
    return {
        "spectrogram": lambda y: np.abs(librosa.stft(y, **STFT)) ** 2,
        "logmel": lambda y: np.log(librosa.feature.melspectrogram(y=y, sr=SR, n_mels=80, **STFT) + 1e-6),
        "mfcc": lambda y: librosa.feature.mfcc(y=y, sr=SR, n_mfcc=20, n_mels=40, **STFT),
        "lfcc": lambda y: lfcc_librosa(y, bank),
        "cqt": lambda y: np.log(np.abs(librosa.cqt(y, sr=SR, hop_length=160, n_bins=84)) + 1e-6),
    }


def best_time(fn: Callable[[], object], repeats: int) -> float:
    fn()  # warm-up: caches, lazy init
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(2)

    batch = np.stack([make_signal(4.0, seed) for seed in range(16)])
    clip = make_signal(60.0, 99)
    print(f"torch {torch.__version__}, librosa {librosa.__version__}, threads {torch.get_num_threads()}")
    print(f"{'feature':<12} {'input':<10} {'torch s':>9} {'librosa s':>10} {'ratio':>16}")
    for name, reference in librosa_references().items():
        module = build_feature(name)
        for label, data in (("16x4s", batch), ("1x60s", clip[None])):
            wave = torch.from_numpy(data)
            with torch.inference_mode():
                t_torch = best_time(lambda m=module, w=wave: m(w), args.repeats)
            t_ref = best_time(lambda d=data, f=reference: [f(item) for item in d], args.repeats)
            ratio = t_ref / t_torch
            verdict = f"{ratio:.1f}x faster" if ratio >= 1 else f"{1 / ratio:.1f}x slower"
            print(f"{name:<12} {label:<10} {t_torch:9.4f} {t_ref:10.4f} {verdict:>16}")
    own_versus_direct(clip, args.repeats)


def own_versus_direct(clip: np.ndarray, repeats: int) -> None:
    import torch.nn.functional as F  # noqa: N812

    from unmask.features import Deltas

    print(f"\n{'own way':<38} {'own s':>9} {'direct s':>9} {'ratio':>14}")
    lfcc = build_feature("lfcc")
    # LFCC of 2 s windows every 1 s over the 60 s clip: [59 windows x 20 coefficients, 201 frames]
    static = torch.randn(59 * 20, 201)
    for width in (3, 9):
        deltas = Deltas(width, 1, "nearest")
        kernel = deltas.kernel.float().clone()

        def direct(x=static, k=kernel, half=width // 2):
            return F.conv1d(F.pad(x[:, None], (half, half), mode="replicate"), k)[:, 0]

        assert torch.allclose(deltas(static), direct(), atol=1e-5)
        _report(f"deltas width {width}, shifted sums", lambda d=deltas: d(static), direct, repeats)
    from unmask.models.lfcc_gmm import logsumexp

    # LFCC-GMM scores of one scan batch: ~5,500 voiced frames x 2 classes x 64 components
    scores = torch.from_numpy(np.random.default_rng(0).normal(-300, 150, (5500, 2, 64)).astype(np.float32))
    assert torch.equal(logsumexp(scores), torch.logsumexp(scores, dim=-1))
    _report(
        "mixture logsumexp, far terms floored", lambda: logsumexp(scores),
        lambda: torch.logsumexp(scores, dim=-1), repeats,
    )  # fmt: skip
    strip = torch.from_numpy(clip)
    window, hop = 2 * SR, SR
    with torch.inference_mode():
        _report(
            "lfcc bands, 2 s windows, 1 s hop",
            lambda: lfcc.window_band_energies(strip, window, hop),
            lambda: lfcc.band_energies(strip.unfold(0, window, hop)),
            repeats,
        )


def _report(label: str, own: Callable[[], object], direct: Callable[[], object], repeats: int) -> None:
    t_own, t_direct = best_time(own, repeats), best_time(direct, repeats)
    ratio = t_direct / t_own
    verdict = f"{ratio:.1f}x faster" if ratio >= 1 else f"{1 / ratio:.1f}x slower"
    print(f"{label:<38} {t_own:9.4f} {t_direct:9.4f} {verdict:>14}")


if __name__ == "__main__":
    main()
