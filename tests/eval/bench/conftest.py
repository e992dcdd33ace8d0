"""Fixtures for the bench tests: a tiny labelled corpus written by code, and a throwaway PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from audio_fixtures import RATE, buzzy, voiced
from pg_server import postgres_server
from torch_threads import one_torch_thread  # noqa: F401 (a fixture: one torch thread)


@pytest.fixture(scope="session")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """8 clips of 1 s: real (voiced) and fake (buzzy) from two sources and two languages, plus one
    clip that cannot be decoded. Returns the manifest path."""
    root = tmp_path_factory.mktemp("corpus")
    rng = np.random.default_rng(7)
    rows = ["path,label,source,language,system"]
    for i in range(8):
        label = "fake" if i % 2 else "real"
        source = "src-a" if i < 4 else "src-b"
        language = "en" if i % 4 < 2 else "pt"
        wave = buzzy(1.0, rng) if label == "fake" else voiced(1.0, rng, f0=float(rng.uniform(100, 200)))
        name = f"clips/{i:02d}.wav"
        (root / "clips").mkdir(exist_ok=True)
        sf.write(root / name, wave, RATE)
        rows.append(
            f"{name},{label},{source},{language},{'tts-' + str(i % 3) if label == 'fake' else 'human'}"
        )
    (root / "clips" / "broken.wav").write_bytes(b"RIFF not really a wave file")
    rows.append("clips/broken.wav,fake,src-b,pt,tts-9")
    manifest = root / "manifest.csv"
    manifest.write_text("\n".join(rows) + "\n")
    return manifest


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A PostgreSQL server for this test on 127.0.0.1 (tests/pg_server.py), stopped and deleted after it."""
    yield from postgres_server("bench", "results", scheme="postgresql+psycopg")


@pytest.fixture(scope="session")
def make_config():
    """``make_config(directory, manifest, **overrides) -> bench.yaml path``."""
    return write_config


def write_config(directory: Path, manifest: Path | str, **overrides: object) -> Path:
    """A bench YAML for the tiny corpus: the bundled default model, clean + two corruptions."""
    import yaml

    config = {
        "name": "tiny",
        "seed": 11,
        "datasets": {"tiny": {"manifest": str(manifest)}},
        "protocols": [{"type": "test_only", "dataset": "tiny"}],
        "detectors": [{"name": "default", "model": "default"}],
        "corruptions": [{"name": "white-noise", "severities": [2]}, {"name": "gain", "severities": [1]}],
        "group_by": ["source", "language"],
    }
    config.update(overrides)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "bench.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path
