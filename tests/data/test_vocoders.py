"""Neural vocoders and the RVQ codec: a few training steps per family on speech-like clips, resynthesis
through the checkpoint (length, finiteness, a real change, exact round trip, chunking), RVQ bitrates, resume,
the runner and the CLI. Models are shrunk (channel overrides) so the whole file stays well under a minute."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from typer.testing import CliRunner

from audio_fixtures import voiced
from unmask.cli.main import app
from unmask.data.manifest import Manifest, read_manifest
from unmask.data.synthesize import SynthesisError, get_copy_system, synthesize_copy
from unmask.data.synthesize.vocoders import (
    FAMILIES,
    NeuralVocoderSystem,
    TrainSettings,
    build_model,
    load_checkpoint,
    load_vocoder,
    partial_path,
    train_vocoder,
    trained_systems,
)
from unmask.data.synthesize.vocoders.vae import gaussian_blur_time
from unmask.errors import UnmaskError

RATE = 16000
TINY = {
    "melgan": {"channels": 32},
    "hifigan": {"channels": 32},
    "upsample-conv": {"channels": 32},
    "subpixel": {"channels": 32},
    "istft": {"channels": 32, "blocks": 1},
    "codec-rvq": {"channels": 8, "max_channels": 32, "latent_dim": 16, "codebook_size": 32},
    "snake-vae": {"channels": 8, "max_channels": 32, "latent_dim": 8},
}
FAST = TrainSettings(segment_samples=2560, batch_size=2, save_every_s=1e9)


def clips(n: int = 3, seconds: float = 1.2) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [voiced(seconds, rng, f0=100.0 + 25 * i) for i in range(n)]


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> tuple[Path, dict]:
    """Every family trained 3 steps (warm-up, then GAN steps) into one folder; the reports by family."""
    torch.set_num_threads(1)
    folder = tmp_path_factory.mktemp("vocoders")
    reports = {
        family: train_vocoder(
            family,
            clips(),
            folder / f"{family}.pt",
            steps=3,
            seed=1,
            settings=FAST,
            model_overrides=TINY[family],
        )
        for family in FAMILIES
    }
    return folder, reports


@pytest.mark.parametrize("family", list(FAMILIES))
def test_each_family_trains_and_resynthesises_through_its_checkpoint(trained, family):
    folder, reports = trained
    report = reports[family]
    assert report.steps == 3 and report.size_bytes == (folder / f"{family}.pt").stat().st_size
    payload = torch.load(folder / f"{family}.pt", weights_only=True)  # no code in the file
    assert payload["family"] == family and payload["training"]["steps"] == 3
    assert payload["training"]["gan_start_step"] == 2  # warm-up (half of 3 steps) came first
    assert {"discriminator", "adversarial", "feature_matching"} <= set(payload["training"]["losses"])
    assert not partial_path(folder / f"{family}.pt").exists()

    name = "codec-rvq-4" if family == "codec-rvq" else family
    system = get_copy_system(name, vocoders_dir=folder)
    wave = voiced(1.3, np.random.default_rng(5), f0=150.0)
    out = system.resynthesize(wave, RATE, np.random.default_rng(0))
    assert out.dtype == np.float32 and out.shape == wave.shape and np.isfinite(out).all()
    assert np.sqrt(np.mean(out**2)) == pytest.approx(np.sqrt(np.mean(wave**2)), rel=1e-3)  # level matched
    assert np.abs(out - wave).max() > 0.05  # a rebuild, not a copy

    # The checkpoint gives exactly what the trained model in memory gives.
    loaded, _ = load_vocoder(folder / f"{family}.pt")
    x = torch.from_numpy(wave).unsqueeze(0)
    with torch.no_grad():
        n_q = 4 if family == "codec-rvq" else None
        assert torch.equal(report.model.reconstruct(x, n_q)[0], loaded.reconstruct(x, n_q)[0])


@pytest.mark.parametrize("family", ["melgan", "istft", "codec-rvq"])
def test_chunked_resynthesis_matches_one_pass(trained, family):
    folder, _ = trained
    name = "codec-rvq-8" if family == "codec-rvq" else family
    wave = voiced(2.0, np.random.default_rng(3))
    whole = NeuralVocoderSystem.from_directory(name, folder, chunk_seconds=10.0)
    chunked = NeuralVocoderSystem.from_directory(name, folder, chunk_seconds=0.3, context_seconds=0.5)
    a, b = (s.resynthesize(wave, RATE, np.random.default_rng(0)) for s in (whole, chunked))
    assert np.abs(a - b).max() < 1e-4 * max(1.0, np.abs(a).max() * 100)


def test_snake_vae_samples_in_training_and_decodes_the_mean_at_inference(trained):
    folder, reports = trained
    model = reports["snake-vae"].model
    waves = torch.from_numpy(np.stack([c[:2560] for c in clips(2)]).astype(np.float32))
    model.train()
    (first, kl), (second, _) = model.reconstruct(waves), model.reconstruct(waves)
    assert kl.item() > 0 and not torch.equal(first, second)  # a draw from the posterior each time
    model.eval()
    with torch.no_grad():
        assert torch.equal(model.reconstruct(waves)[0], model.reconstruct(waves)[0])
        mean, scale = model.posterior(waves)
    assert mean.shape == (2, TINY["snake-vae"]["latent_dim"], 2560 // model.hop) and bool((scale > 0).all())
    with pytest.raises(ValueError, match="n_q"):
        model.reconstruct(waves, n_q=4)


def test_snake_gradient_matches_autograd():
    from unmask.data.synthesize.vocoders.vae import Snake
    snake = Snake(3).double()
    with torch.no_grad():
        snake.alpha.copy_(torch.tensor([0.3, 1.0, 2.5], dtype=torch.float64).view(1, 3, 1))
    x = torch.randn(2, 3, 40, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(snake, (x,))
    alpha = snake.alpha.abs() + 1e-4
    reference = x + torch.sin(alpha * x) ** 2 / alpha
    torch.testing.assert_close(snake(x), reference)


def test_rvq_more_stages_reconstruct_better_and_codes_are_in_range(tmp_path):
    settings = replace(FAST, warmup_fraction=1.0, lr_generator=3e-3)
    report = train_vocoder(
        "codec-rvq",
        clips(),
        tmp_path / "codec-rvq.pt",
        steps=20,
        settings=settings,
        model_overrides=TINY["codec-rvq"],
    )
    codec = report.model
    waves = torch.from_numpy(np.stack(clips(2, seconds=1.0)))
    codes = codec.encode(waves, n_q=4)
    assert codes.shape == (4, 2, int(np.ceil(RATE / 320))) and codes.dtype == torch.int64
    assert int(codes.min()) >= 0 and int(codes.max()) < TINY["codec-rvq"]["codebook_size"]
    with torch.no_grad():
        latent = codec.encoder(waves.unsqueeze(1))
        residuals = [float(torch.mean((latent - codec.quantizer(latent, n)[0]) ** 2)) for n in (1, 2, 4, 8)]
        unquantised = codec.decoder(latent)
        errors = {n: float(torch.mean((codec.decoder(codec.quantizer(latent, n)[0]) - unquantised) ** 2))
                  for n in (1, 8)}
    assert residuals == sorted(residuals, reverse=True) and residuals[-1] < 0.8 * residuals[0]
    # the audio from 8 stages is nearer the audio of the unquantised latent. (Not mel L1 against the
    # input: after 20 steps the decoder is too young for that, and the order flipped with the CPU.)
    assert errors[8] < errors[1]
    assert codec.bitrate(2) == pytest.approx(2 * 5 * 50)  # 32 codes = 5 bits, 50 frames/s
    with pytest.raises(ValueError, match="n_q"):
        codec.encode(waves, n_q=9)


def test_interrupted_training_resumes_from_the_partial_state(tmp_path):
    out = tmp_path / "melgan.pt"

    def stop_at_third_step(step, seconds, losses):
        if step == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train_vocoder(
            "melgan",
            clips(),
            out,
            steps=6,
            settings=replace(FAST, save_every_s=0.0),
            model_overrides=TINY["melgan"],
            on_progress=stop_at_third_step,
            log_every=1,
        )
    assert not out.exists() and load_checkpoint(partial_path(out))["training"]["steps"] == 2
    report = train_vocoder("melgan", clips(), out, steps=6, settings=FAST, model_overrides=TINY["melgan"])
    assert report.resumed_from_step == 2 and report.steps == 6 and not partial_path(out).exists()


def test_missing_or_broken_checkpoints_fail_clearly(tmp_path):
    with pytest.raises(ValueError, match="--vocoders"):
        get_copy_system("hifigan")
    with pytest.raises(SynthesisError, match="no trained checkpoint hifigan.pt") as caught:
        get_copy_system("hifigan", vocoders_dir=tmp_path)
    assert "train-vocoders" in caught.value.hint
    (tmp_path / "istft.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(SynthesisError, match="not a readable vocoder checkpoint"):
        get_copy_system("istft", vocoders_dir=tmp_path)
    with pytest.raises(UnmaskError, match="no usable real clips"):
        train_vocoder("melgan", [np.zeros(4000, np.float32)], tmp_path / "m.pt", steps=1)
    with pytest.raises(ValueError, match="budget"):
        train_vocoder("melgan", clips(), tmp_path / "m.pt")
    with pytest.raises(ValueError, match="unknown vocoder family"):
        build_model({"family": "wavenet", "model": {}})


def real_manifest(root: Path, n: int = 2) -> Path:
    records = []
    for i, wave in enumerate(clips(n, seconds=0.8)):
        path = root / "corpus" / f"spk{i}" / f"clip{i}.wav"
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(path, wave, RATE)
        records.append({"path": path, "label": "real", "speaker": f"spk{i}", "domain": "speech"})
    return Manifest.from_records(records, root / "corpus").write(root / "corpus" / "manifest.csv")


def test_snake_vae_gen_decodes_a_generated_latent_seeded_by_the_clip(trained):
    folder, _ = trained
    system = get_copy_system("snake-vae-gen", vocoders_dir=folder)
    assert system.latent_blur_frames > 0
    wave = voiced(1.3, np.random.default_rng(5), f0=150.0)
    out = system.resynthesize(wave, RATE, np.random.default_rng(0))
    assert out.shape == wave.shape and np.isfinite(out).all()
    assert np.sqrt(np.mean(out**2)) == pytest.approx(np.sqrt(np.mean(wave**2)), rel=1e-3)
    assert np.array_equal(out, system.resynthesize(wave, RATE, np.random.default_rng(0)))  # reproducible
    assert not np.array_equal(out, system.resynthesize(wave, RATE, np.random.default_rng(1)))  # drawn
    encoded = get_copy_system("snake-vae", vocoders_dir=folder)
    copy = encoded.resynthesize(wave, RATE, np.random.default_rng(0))
    assert np.abs(out - copy).max() > 1e-3  # not the encoder's latent
    with pytest.raises(ValueError, match="no continuous latent"):
        NeuralVocoderSystem.from_directory("melgan", folder, latent_blur_frames=2.0)


def test_gaussian_blur_keeps_the_course_and_removes_the_detail():
    t = torch.arange(64, dtype=torch.float32)
    course = torch.sin(2 * torch.pi * t / 64)
    detail = torch.where(t % 2 == 0, 1.0, -1.0) * 0.5
    x = torch.stack([course + detail, torch.full_like(t, 3.0)]).unsqueeze(0)  # [1, 2, 64]
    blurred = gaussian_blur_time(x, 2.0)
    assert blurred.shape == x.shape
    torch.testing.assert_close(blurred[0, 1], torch.full_like(t, 3.0))  # a constant stays, ends included
    inner = slice(8, 56)
    assert (blurred[0, 0, inner] - course[inner]).abs().max() < 0.05  # the alternation is gone
    assert (x[0, 0, inner] - course[inner]).abs().max() == pytest.approx(0.5, abs=1e-6)
    assert torch.equal(gaussian_blur_time(x, 0.0), x)
    assert gaussian_blur_time(x[..., :3], 2.0).shape == (1, 2, 3)  # shorter than the kernel


def test_synthesize_copy_uses_trained_vocoders_by_name(trained, tmp_path):
    folder, _ = trained
    assert trained_systems(folder) == [
        "melgan",
        "hifigan",
        "upsample-conv",
        "subpixel",
        "istft",
        "codec-rvq-2",
        "codec-rvq-4",
        "codec-rvq-8",
        "snake-vae",
        "snake-vae-gen",
    ]
    manifest = real_manifest(tmp_path)
    result = synthesize_copy(
        manifest, tmp_path / "out", ["subpixel", "codec-rvq-2", "lpc"], workers=1, vocoders=folder
    )
    assert not result.failures and len(result.manifest) == 6
    rows = result.manifest.frame
    assert sorted(set(rows["system"])) == ["codec-rvq-2", "lpc", "subpixel"]
    assert set(rows["real_twin"]) == {str(p) for p in read_manifest(manifest).abs_paths()}
    for path in result.manifest.abs_paths():
        assert sf.info(path).frames == int(0.8 * RATE)


def test_cli_trains_vocoders_then_synthesizes_the_vocoders_recipe(tmp_path):
    runner = CliRunner()
    manifest = real_manifest(tmp_path)
    weights = tmp_path / "weights"
    trained = runner.invoke(
        app,
        [
            "data",
            "train-vocoders",
            "--real",
            str(manifest),
            "--out",
            str(weights),
            "--families",
            "melgan,codec-rvq",
            "--steps",
            "2",
            "--batch-size",
            "2",
            "--segment-samples",
            "2560",
            "--threads",
            "1",
            "--json",
        ],
    )
    assert trained.exit_code == 0, trained.output
    assert sorted(p.name for p in weights.glob("*.pt")) == ["codec-rvq.pt", "melgan.pt"]
    again = runner.invoke(
        app,
        [
            "data",
            "train-vocoders",
            "--real",
            str(manifest),
            "--out",
            str(weights),
            "--families",
            "melgan",
            "--steps",
            "2",
        ],
    )
    assert again.exit_code == 0 and "already trained" in " ".join(again.output.split())
    bad = runner.invoke(
        app,
        ["data", "train-vocoders", "--real", str(manifest), "--out", str(weights), "--families", "wavenet"],
    )
    assert bad.exit_code == 2 and "unknown vocoder family" in bad.output

    out = tmp_path / "fakes"
    result = runner.invoke(
        app,
        [
            "data",
            "synthesize",
            "--recipe",
            "vocoders",
            "--real",
            str(manifest),
            "--vocoders",
            str(weights),
            "--out",
            str(out),
            "--workers",
            "1",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    systems = read_manifest(out / "manifest.csv").column("system")
    expected = {"melgan", "codec-rvq-2", "codec-rvq-4", "codec-rvq-8", "world", "griffinlim", "lpc"}
    assert set(systems) == expected and len(systems) == 2 * len(expected)
    missing = runner.invoke(
        app, ["data", "synthesize", "vocoders", "--real", str(manifest), "--out", str(out)]
    )
    assert missing.exit_code == 2 and "--vocoders" in missing.output


def test_validation_clips_are_never_trained_on(tmp_path):
    from unmask.data.synthesize.vocoders.training import split_validation

    few = clips(3)
    train, held = split_validation(few)
    assert len(train) == 3 and held == []  # too few to hold one out: no validation figure at all
    many = clips(12, seconds=0.1)
    train, held = split_validation(many)
    assert len(held) == 1 and len(train) == 11
    assert not any(h is t for h in held for t in train)
    report = train_vocoder(
        "melgan", few, tmp_path / "m.pt", steps=1, settings=FAST, model_overrides=TINY["melgan"]
    )
    assert report.validation_mel_l1 is None


def test_silent_or_non_mono_training_clips_are_reported_not_dropped(tmp_path):
    from unmask.data.synthesize.vocoders.training import load_training_audio

    waves = [*clips(2), np.zeros(RATE, dtype=np.float32), np.zeros((2, RATE), dtype=np.float32)]
    kept, skipped = load_training_audio(waves)
    assert len(kept) == 2
    assert skipped == ["wave #2: silent (peak <= 1e-6)", "wave #3: not a 1-D mono wave (shape (2, 16000))"]
    root = tmp_path / "data"
    (root / "c").mkdir(parents=True)
    sf.write(root / "c" / "voice.wav", clips(1)[0], RATE)
    sf.write(root / "c" / "quiet.wav", np.zeros(RATE, dtype=np.float32), RATE)
    Manifest.from_records(
        [{"path": "c/voice.wav", "label": "real"}, {"path": "c/quiet.wav", "label": "real"}], root
    ).write(root / "m.csv")
    kept, skipped = load_training_audio(root / "m.csv")
    assert len(kept) == 1 and len(skipped) == 1 and "quiet.wav: silent" in skipped[0]


def test_cli_train_vocoders_without_a_budget_is_a_usage_error(tmp_path):
    result = CliRunner().invoke(
        app,
        [
            "data",
            "train-vocoders",
            "--real",
            str(real_manifest(tmp_path)),
            "--out",
            str(tmp_path / "w"),
            "--minutes",
            "0",
        ],
    )
    assert result.exit_code == 2 and "budget" in result.output
    assert not (tmp_path / "w").exists() or not any((tmp_path / "w").iterdir())
