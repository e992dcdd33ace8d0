"""Fixtures for the service tests: a tiny detector, an app with a key, clips, live servers, PostgreSQL."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from pg_server import free_port, postgres_server
from service_fixtures import tiny_detector
from torch_threads import one_torch_thread  # noqa: F401 (a fixture: one torch thread)

pytest.importorskip("fastapi", reason="the service needs fastapi (pip install -e '.[dev]')")


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
@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A throwaway PostgreSQL server on 127.0.0.1 (tests/pg_server.py)."""
    yield from postgres_server("serve", "unmask")
