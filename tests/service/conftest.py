"""Fixtures for the service tests: a tiny detector, an app with a key, clips, live servers, PostgreSQL."""

from __future__ import annotations

import glob
import io
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from audio_fixtures import RATE, buzzy, voiced

pytest.importorskip("fastapi", reason="the service needs fastapi (pip install -e '.[dev]')")

TINY = {"channels": [4, 4], "window_s": 1.0}


@pytest.fixture(scope="session", autouse=True)
def _one_torch_thread() -> Iterator[None]:
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def tiny_detector():
    import torch

    from unmask.detect.pipeline import Detector
    from unmask.models.registry import build_model

    torch.manual_seed(0)
    return Detector(build_model("lcnn", TINY), name="tiny", version="1")


def wav_bytes(seconds: float = 2.0, seed: int = 0, fake: bool = False, fmt: str = "WAV") -> bytes:
    rng = np.random.default_rng(seed)
    wave = buzzy(seconds, rng) if fake else voiced(seconds, rng)
    buffer = io.BytesIO()
    sf.write(buffer, wave, RATE, format=fmt)
    return buffer.getvalue()


class Service:
    """A TestClient over an app with one normal key and one admin key."""

    def __init__(self, client, app, key: str, admin_key: str) -> None:
        self.client = client
        self.app = app
        self.key = key
        self.admin_key = admin_key
        self.config = app.state.config
        self.store = app.state.store

    def headers(self, key: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {key or self.key}"}

    def upload(self, data: bytes, name: str = "clip.wav", key: str | None = None, **kwargs):
        return self.client.post("/v1/scans", files={"file": (name, data, "audio/wav")},
                                headers=self.headers(key), **kwargs)

    def wait(self, scan_id: str, key: str | None = None, timeout: float = 60.0) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            scan = self.client.get(f"/v1/scans/{scan_id}", headers=self.headers(key)).json()
            if scan["status"] in ("done", "failed"):
                return scan
            time.sleep(0.05)
        raise AssertionError(f"scan {scan_id} did not finish in {timeout} s: {scan}")


@pytest.fixture
def make_service(tmp_path: Path) -> Iterator[Callable[..., Service]]:
    """``make_service(detector=None, db_url=None, **config)`` -> a running Service (workers started)."""
    from fastapi.testclient import TestClient

    from unmask.service.app import create_app
    from unmask.service.config import ServiceConfig
    from unmask.service.db import ServiceStore

    opened: list = []

    def make(detector=None, db_url: str | None = None, **options) -> Service:
        options.setdefault("poll_interval_s", 0.05)
        config = ServiceConfig(data_dir=tmp_path / f"serve{len(opened)}", db_url=db_url, **options)
        config.data_dir.mkdir(parents=True, exist_ok=True)
        store = ServiceStore(config.url)
        key, _ = store.create_key("tester")
        admin_key, _ = store.create_key("admin", admin=True)
        app = create_app(config, detector=detector or tiny_detector(), store=store)
        client = TestClient(app)
        client.__enter__()
        opened.append((client, store))
        return Service(client, app, key, admin_key)

    yield make
    for client, store in opened:
        client.__exit__(None, None, None)
        store.close()


@pytest.fixture
def service(make_service) -> Service:
    return make_service()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LiveServer:
    """An app served by uvicorn on 127.0.0.1 in a thread (for raw-socket and browser tests)."""

    def __init__(self, app) -> None:
        import uvicorn

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning",
                                server_header=False)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(30)


@pytest.fixture
def live_service(tmp_path: Path):
    """``live_service(**config)`` -> (LiveServer, key) on a tiny detector; stopped at the end."""
    from unmask.service.app import create_app
    from unmask.service.config import ServiceConfig
    from unmask.service.db import ServiceStore

    started: list = []

    def make(detector=None, **options):
        options.setdefault("poll_interval_s", 0.05)
        config = ServiceConfig(data_dir=tmp_path / f"live{len(started)}", **options)
        config.data_dir.mkdir(parents=True, exist_ok=True)
        store = ServiceStore(config.url)
        key, _ = store.create_key("tester")
        server = LiveServer(create_app(config, detector=detector or tiny_detector(), store=store)).__enter__()
        started.append((server, store))
        return server, key

    yield make
    for server, store in started:
        server.__exit__(None, None, None)
        store.close()


# -- PostgreSQL, started on loopback as the bench tests do ------------------------------------------
def _pg_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A throwaway PostgreSQL server on 127.0.0.1 (initdb + pg_ctl in a temp folder; as root it runs as the
    ``postgres`` user, since initdb refuses root)."""
    bindir = _pg_bin()
    if bindir is None:
        pytest.skip("PostgreSQL server binaries are not installed (scripts/install-system-deps.sh does it)")
    as_user: list[str] = []
    if os.geteuid() == 0:
        if shutil.which("runuser") is None:
            pytest.skip("running as root without runuser: cannot start PostgreSQL as an unprivileged user")
        as_user = ["runuser", "-u", "postgres", "--"]
    home = Path(tempfile.mkdtemp(prefix="unmask-serve-pg-"))
    if as_user:
        os.chmod(home, 0o755)
        shutil.chown(home, user="postgres")
    port = free_port()

    def run(*args: str, check: bool = True) -> None:
        done = subprocess.run([*as_user, *args], capture_output=True, text=True, timeout=60)
        if check and done.returncode:
            raise RuntimeError(f"{args[0]} failed ({done.returncode}): {done.stderr or done.stdout}")

    data = home / "data"
    try:
        run(str(bindir / "initdb"), "-D", str(data), "-U", "serve", "--auth=trust", "--no-sync", "-E", "UTF8")
        options = f"-h 127.0.0.1 -p {port} -k {home} -F"
        run(str(bindir / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(home / "log"), "-w", "start")
        try:
            run(str(bindir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "serve", "unmask")
            yield f"postgresql://serve@127.0.0.1:{port}/unmask"
        finally:
            run(str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop", check=False)
    finally:
        shutil.rmtree(home, ignore_errors=True)
