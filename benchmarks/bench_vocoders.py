"""Size and CPU speed of each neural vocoder family (unmask.data.synthesize.vocoders).

Usage: .venv/bin/python benchmarks/bench_vocoders.py [--steps 2] [--threads 2] [--seconds 4] [--families a,b]

Per family, with the default (shipped) model settings and training batch (8 x 0.64 s):
  params, checkpoint MB (generator weights as saved), warm-up step s (reconstruction loss only), GAN step s
  (discriminator + generator), and resynthesis speed in x real time on a --seconds speech-like clip
  (untrained weights: speed does not depend on them). Reference in the same process: the DSP system
  griffinlim-mel (80-band mel -> 32 Griffin-Lim iterations) on the same clip; "vs GL" > 1 means the neural
  system resynthesises faster than it. Steps are timed after one untimed step (best of --steps).
The default runs in about a minute on 2 free cores; on a loaded machine everything scales down together.
"""

from __future__ import annotations

import argparse
import io
import os
import time
from dataclasses import asdict

os.environ.setdefault("OMP_NUM_THREADS", "2")

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402, N812
from scipy.signal import lfilter  # noqa: E402

from unmask.data.synthesize import get_copy_system  # noqa: E402
from unmask.data.synthesize.vocoders import FAMILIES, TrainSettings, build_model, default_config  # noqa: E402
from unmask.data.synthesize.vocoders.discriminators import (  # noqa: E402
    Discriminators,
    discriminator_loss,
    feature_matching_loss,
    generator_adversarial_loss,
    multi_resolution_stft_loss,
)
from unmask.data.synthesize.vocoders.generators import log_mel_module  # noqa: E402
from unmask.data.synthesize.vocoders.system import NeuralVocoderSystem  # noqa: E402

RATE = 16000


def speech_like(seconds: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n = int(seconds * RATE)
    phase = np.cumsum(120 * (1 + 0.1 * np.sin(2 * np.pi * 0.7 * np.arange(n) / RATE)) / RATE)
    pulses = (np.diff(np.floor(phase), prepend=0) > 0) + 0.02 * rng.standard_normal(n)
    syllables = 0.5 + 0.5 * np.sin(2 * np.pi * 2.5 * np.arange(n) / RATE) ** 2
    wave = lfilter([1.0], [1.0, -1.3, 0.8], pulses) * syllables
    return (0.5 * wave / np.abs(wave).max()).astype(np.float32)


def best(fn, repeats: int) -> float:
    fn()  # untimed: first-call allocations
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def train_step_seconds(family: str, settings: TrainSettings, repeats: int) -> tuple[int, int, float, float]:
    config = default_config(family)
    model, discs = build_model(config), Discriminators(tuple(config["discriminators"]))
    opt_g = torch.optim.AdamW(model.parameters(), 1e-4)
    opt_d = torch.optim.AdamW(discs.parameters(), 1e-4)
    mel = log_mel_module()
    batch = torch.from_numpy(np.stack([speech_like(settings.segment_samples / RATE, i)
                                       for i in range(settings.batch_size)]))

    def warmup_step() -> None:
        fake, aux = model.reconstruct(batch)
        loss = (F.l1_loss(mel(fake), mel(batch))
                + multi_resolution_stft_loss(fake, batch) + aux)
        opt_g.zero_grad()
        loss.backward()
        opt_g.step()

    def gan_step() -> None:
        fake, aux = model.reconstruct(batch)
        loss_d = discriminator_loss(discs(batch), discs(fake.detach()))
        opt_d.zero_grad()
        loss_d.backward()
        opt_d.step()
        real_out, fake_out = discs(batch), discs(fake)
        reconstruction = F.l1_loss(mel(fake), mel(batch)) + multi_resolution_stft_loss(fake, batch)
        adversarial = generator_adversarial_loss(fake_out) + 2 * feature_matching_loss(real_out, fake_out)
        loss = 20 * reconstruction + adversarial + aux
        opt_g.zero_grad()
        loss.backward()
        opt_g.step()

    buffer = io.BytesIO()
    torch.save({"generator": model.state_dict(), "config": config}, buffer)
    params = sum(p.numel() for p in model.parameters())
    return params, buffer.tell(), best(warmup_step, repeats), best(gan_step, repeats)


def resynthesis_seconds(family: str, wave: np.ndarray, folder: str, repeats: int) -> float:
    config = default_config(family)
    model = build_model(config)
    path = os.path.join(folder, f"{family}.pt")
    torch.save({"format": "unmask-vocoder", "version": 1, "family": family, "config": config,
                "generator": model.state_dict(), "training": {}}, path)
    system = NeuralVocoderSystem(name=family, checkpoint=path, n_q=8 if family == "codec-rvq" else None)
    return best(lambda: system.resynthesize(wave, RATE, np.random.default_rng(0)), repeats)


def main() -> None:
    import tempfile

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2, help="timed steps per phase (best of)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=4.0, help="resynthesis clip length")
    parser.add_argument("--families", default=",".join(FAMILIES))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    settings = TrainSettings()
    print(f"torch {torch.__version__}, {args.threads} threads; training batch {settings.batch_size} x "
          f"{settings.segment_samples} samples; resynthesis of a {args.seconds:g} s clip; "
          f"settings {asdict(settings)}")
    wave = speech_like(args.seconds, seed=9)
    reference = get_copy_system("griffinlim-mel")
    gl = best(lambda: reference.resynthesize(wave, RATE, np.random.default_rng(0)), args.steps)
    print(f"reference griffinlim-mel: {args.seconds / gl:.1f} x real time")
    header = (f"{'family':14s} {'params':>9s} {'MB':>6s} {'warm-up s/step':>15s} {'GAN s/step':>11s} "
              f"{'steps/s (warm/GAN)':>19s} {'x real time':>12s} {'vs GL':>6s}")
    print(header)
    with tempfile.TemporaryDirectory() as folder:
        for family in args.families.split(","):
            params, size, warm, gan = train_step_seconds(family, settings, args.steps)
            seconds = resynthesis_seconds(family, wave, folder, args.steps)
            print(f"{family:14s} {params:9d} {size / 1e6:6.2f} {warm:15.3f} {gan:11.3f} "
                  f"{1 / warm:9.2f}/{1 / gan:<9.2f} {args.seconds / seconds:12.1f} {gl / seconds:6.2f}",
                  flush=True)


if __name__ == "__main__":
    main()
