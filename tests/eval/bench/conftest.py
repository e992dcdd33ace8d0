"""Fixtures for the bench tests: a tiny labelled corpus written by code, and a throwaway PostgreSQL."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from audio_fixtures import RATE, buzzy, voiced


@pytest.fixture(scope="session", autouse=True)
def _one_torch_thread() -> Iterator[None]:
    """The tiny model's batches gain nothing from threads, and on a busy machine they lose a lot."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


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


def _pg_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A PostgreSQL server started for this test on 127.0.0.1 (initdb + pg_ctl in a temp folder), then
    stopped and deleted.

    initdb refuses to run as root, so as root the server runs as the ``postgres`` system user.
    """
    bindir = _pg_bin()
    if bindir is None:
        pytest.skip(
            "PostgreSQL server binaries (initdb, pg_ctl) are not installed; "
            "scripts/install-system-deps.sh installs them"
        )
    as_user: list[str] = []
    if os.geteuid() == 0:
        if shutil.which("runuser") is None:
            pytest.skip("running as root without runuser: cannot start PostgreSQL as an unprivileged user")
        as_user = ["runuser", "-u", "postgres", "--"]
    # pytest's tmp_path lies under a root-only folder the postgres user cannot enter; use a fresh
    # folder of its own in the system temp dir instead (removed at the end).
    home = Path(tempfile.mkdtemp(prefix="unmask-pg-"))
    data = home / "data"
    if as_user:
        os.chmod(home, 0o755)
        shutil.chown(home, user="postgres")
    port = _free_port()

    def run(*args: str, check: bool = True) -> subprocess.CompletedProcess:
        done = subprocess.run([*as_user, *args], capture_output=True, text=True, timeout=60)
        if check and done.returncode:
            raise RuntimeError(
                f"{' '.join(args[:1])} failed ({done.returncode}): {done.stderr or done.stdout}"
            )
        return done

    try:
        run(str(bindir / "initdb"), "-D", str(data), "-U", "bench", "--auth=trust", "--no-sync", "-E", "UTF8")
        # The socket lives in our own folder, never in a shared /var/run; fsync off: a throwaway server.
        options = f"-h 127.0.0.1 -p {port} -k {home} -F"
        run(str(bindir / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(home / "log"), "-w", "start")
        try:
            run(str(bindir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "bench", "results")
            yield f"postgresql+psycopg://bench@127.0.0.1:{port}/results"
        finally:
            run(str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop", check=False)
    finally:
        shutil.rmtree(home, ignore_errors=True)


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
