"""synthesize_copy / synthesize_tts / the CLI: files, manifest, resume, determinism, reported failures."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import typer
from test_synthesize_systems import voiced_speech
from typer.testing import CliRunner

from unmask.cli.common import EXIT_OK, EXIT_SOME_FAILED, EXIT_USAGE
from unmask.cli.synthesize import synthesize
from unmask.data.manifest import Manifest, read_manifest
from unmask.data.synthesize import (
    SynthesisError,
    TtsVoice,
    available_voices,
    item_rng,
    synthesize_copy,
    synthesize_tts,
)

RATE = 16000
SYSTEMS = ["lpc", "griffinlim"]


def real_corpus(root, n_clips: int = 3, unreadable: bool = False):
    """``root/corpus/manifest.csv``: n real clips (different F0 and speakers), one fake row, and optionally
    a real row whose file is not audio."""
    corpus = root / "corpus"
    records = []
    for i in range(n_clips):
        path = corpus / "real" / f"spk{i}" / f"clip{i}.wav"
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(path, voiced_speech(seconds=0.6, f0_hz=100 + 30 * i, seed=i), RATE)
        records.append({"path": path, "label": "real", "source": "lab", "speaker": f"spk{i}",
                        "language": "en", "song": f"song{i}"})
    fake = corpus / "fake" / "other.wav"
    fake.parent.mkdir(parents=True)
    sf.write(fake, voiced_speech(seconds=0.6, seed=9), RATE)
    records.append({"path": fake, "label": "fake", "source": "lab", "speaker": "spk0", "language": "en"})
    if unreadable:
        broken = corpus / "real" / "broken.wav"
        broken.write_text("this is not audio")
        records.append({"path": broken, "label": "real", "source": "lab", "speaker": "spkX",
                        "language": "en"})
    return Manifest.from_records(records, corpus).write(corpus / "manifest.csv")


def mtimes(out_dir) -> dict[str, int]:
    return {str(p): p.stat().st_mtime_ns for p in sorted(out_dir.rglob("*.flac"))}


def test_copy_writes_twins_and_a_valid_manifest(tmp_path):
    real = real_corpus(tmp_path)
    out = tmp_path / "synth"
    result = synthesize_copy(real, out, SYSTEMS, seed=0, workers=1)
    assert result.failures == [] and result.computed == 6 and result.reused == 0
    manifest = read_manifest(out / "manifest.csv")
    assert len(manifest) == 6
    assert set(manifest.labels) == {"fake"}
    assert sorted(set(manifest.column("system"))) == sorted(SYSTEMS)
    assert set(manifest.column("recipe")) == {"copy-synthesis"}
    assert set(manifest.column("source")) == {"lab"}
    originals = read_manifest(real).filter(label="real")
    twins = dict(zip(map(str, originals.abs_paths()), originals.column("speaker"), strict=True))
    for row, twin in zip(manifest, manifest.column("real_twin"), strict=True):
        assert twin in twins and row.speaker == twins[twin], "speaker copied from the real twin"
        assert row.meta["song"] == f"song{twins[twin][3:]}", "song (leakage unit) copied too"
        assert row.path.is_file() and row.path.suffix == ".flac"
        assert row.path.is_relative_to(out / row.system)
        fake, rate = sf.read(row.path, dtype="float32")
        original, _ = sf.read(twin, dtype="float32")
        assert rate == RATE and fake.shape == original.shape
        assert not np.allclose(fake, original, atol=1e-3)


def test_copy_resumes_without_recomputing_and_keeps_earlier_systems(tmp_path):
    real = real_corpus(tmp_path)
    out = tmp_path / "synth"
    synthesize_copy(real, out, SYSTEMS, workers=1)
    before = mtimes(out)
    again = synthesize_copy(real, out, SYSTEMS, workers=1)
    assert again.computed == 0 and again.reused == 6
    assert mtimes(out) == before
    # A run for another system adds its rows; the earlier systems' rows stay in the manifest.
    more = synthesize_copy(real, out, ["world"], workers=1)
    assert more.computed == 3
    assert sorted(set(more.manifest.column("system"))) == sorted([*SYSTEMS, "world"])
    assert len(more.manifest) == 9
    # A deleted file is recomputed, byte for byte the same (deterministic given the seed).
    victim = next(iter(before))
    content = Path(victim).read_bytes()
    os.remove(victim)
    redo = synthesize_copy(real, out, SYSTEMS, workers=1)
    assert redo.computed == 1 and Path(victim).read_bytes() == content


def test_unreadable_clip_is_reported_and_the_others_written(tmp_path):
    real = real_corpus(tmp_path, unreadable=True)
    out = tmp_path / "synth"
    result = synthesize_copy(real, out, ["lpc"], workers=1)
    assert len(result.failures) == 1
    failure = result.failures[0]
    assert failure.item.endswith("broken.wav") and failure.system is None and "unreadable" in failure.reason
    assert len(result.manifest) == 3
    assert "broken.wav" in (out / "failures.csv").read_text()


def test_process_pool_gives_the_same_files_as_one_worker(tmp_path):
    real = real_corpus(tmp_path, n_clips=2)
    one = synthesize_copy(real, tmp_path / "one", ["lpc"], seed=5, workers=1)
    two = synthesize_copy(real, tmp_path / "two", ["lpc"], seed=5, workers=2)
    assert two.computed == 2
    for a, b in zip(one.manifest.abs_paths(), two.manifest.abs_paths(), strict=True):
        assert np.array_equal(sf.read(a)[0], sf.read(b)[0])


def test_limit_and_other_seed(tmp_path):
    real = real_corpus(tmp_path)
    first = synthesize_copy(real, tmp_path / "a", ["lpc"], seed=0, limit=2, workers=1)
    other = synthesize_copy(real, tmp_path / "b", ["lpc"], seed=1, limit=2, workers=1)
    assert len(first.manifest) == 2
    first_wave, other_wave = (sf.read(m.abs_paths()[0])[0] for m in (first.manifest, other.manifest))
    assert not np.array_equal(first_wave, other_wave)


# -- CLI --------------------------------------------------------------------------------------------------
@pytest.fixture
def cli():
    app = typer.Typer()
    app.command()(synthesize)
    app.command("unused")(lambda: None)  # two commands, so the command name is part of the call
    return lambda *args: CliRunner().invoke(app, ["synthesize", *map(str, args)])


def test_cli_copy_exit_codes(tmp_path, cli):
    real = real_corpus(tmp_path, n_clips=2)
    ok = cli("copy", "--real", real, "--out", tmp_path / "ok", "--systems", "lpc", "--workers", 1, "--json")
    assert ok.exit_code == EXIT_OK, ok.output
    assert '"computed": 2' in ok.output
    broken = real_corpus(tmp_path / "b", n_clips=1, unreadable=True)
    failed = cli("copy", "--real", broken, "--out", tmp_path / "bad", "--systems", "lpc", "--workers", 1)
    assert failed.exit_code == EXIT_SOME_FAILED
    assert read_manifest(tmp_path / "bad" / "manifest.csv").column("system") == ["lpc"]
    assert cli("copy", "--out", tmp_path / "x").exit_code == EXIT_USAGE  # no --real
    unknown = cli("copy", "--real", real, "--out", tmp_path / "x", "--systems", "hifigan")
    assert unknown.exit_code == EXIT_USAGE
    assert cli("clone", "--out", tmp_path / "x").exit_code == EXIT_USAGE


# -- TTS --------------------------------------------------------------------------------------------------
needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None,
                                  reason="espeak-ng is not installed (apt-get install espeak-ng)")


@needs_espeak
def test_tts_espeak_voices_speak_every_text(tmp_path):
    texts = ["The birch canoe slid on the smooth planks.", "Read verse out loud for pleasure."]
    result = synthesize_tts(texts, tmp_path / "tts", ["espeak-ng"], workers=1)
    voices = available_voices(["espeak-ng"])
    assert result.failures == [] and len(result.manifest) == 2 * len(voices) >= 4
    assert set(result.manifest.column("source")) == {"tts-espeak-ng"}
    assert set(result.manifest.column("system")) == {v.system for v in voices}
    assert set(result.manifest.column("text")) == set(texts)
    for path in result.manifest.abs_paths():
        wave, rate = sf.read(path)
        assert rate == RATE and len(wave) > 0.5 * RATE and np.abs(wave).max() > 0.05
    again = synthesize_tts(texts, tmp_path / "tts", ["espeak-ng"], workers=1)
    assert again.computed == 0 and again.reused == len(result.manifest)


@needs_espeak
def test_tts_jitter_follows_the_seed():
    voice = TtsVoice("espeak-ng", "en-us")
    text = "Help the woman get back to her feet."
    first = voice.speak(text, item_rng(0, voice.system, "x"))
    assert np.array_equal(first, voice.speak(text, item_rng(0, voice.system, "x")))
    others = [voice.speak(text, item_rng(seed, voice.system, "x")) for seed in (1, 2)]
    assert any(len(o) != len(first) for o in others), "speed jitter changes the duration"


@pytest.mark.parametrize("engine", ["flite", "festival"])
def test_tts_other_engines_when_installed(engine, tmp_path):
    if engine not in {v.engine for v in available_voices()}:
        pytest.skip(f"{engine} is not installed (see unmask.data.synthesize.tts.ENGINE_PACKAGES)")
    voice = available_voices([engine])[0]
    wave = voice.speak("Smoky fires lack flame and heat.", item_rng(0, voice.system, "x"))
    assert wave.dtype == np.float32 and len(wave) > 0.5 * RATE and np.abs(wave).max() > 0.05


def test_missing_engine_names_its_debian_packages(monkeypatch):
    monkeypatch.setattr("unmask.data.synthesize.tts.shutil.which", lambda command: None)
    with pytest.raises(SynthesisError, match="apt-get install festival festvox"):
        available_voices(["festival"])
    assert available_voices() == []
