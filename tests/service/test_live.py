"""Against real servers on 127.0.0.1: uploads refused while they stream (raw sockets, nothing buffered),
and a server killed with SIGKILL mid-queue whose jobs all finish after a restart."""

from __future__ import annotations

import os
import select
import signal
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from pg_server import free_port
from service_fixtures import tiny_detector, wav_bytes

MIB = 1024 * 1024


def _request_head(key: str, boundary: str, extra: str) -> bytes:
    return (
        f"POST /v1/scans HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {key}\r\n"
        f"Content-Type: multipart/form-data; boundary={boundary}\r\n{extra}\r\n"
    ).encode()


def _part_head(boundary: str) -> bytes:
    return (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"huge.wav\"\r\n"
            "Content-Type: audio/wav\r\n\r\n").encode()


def _response(sock: socket.socket, timeout: float = 10.0) -> bytes:
    sock.settimeout(timeout)
    data = b""
    try:
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    except (ConnectionResetError, TimeoutError):
        pass
    return data


def _stream_until_refused(sock: socket.socket, first: bytes, total: int) -> tuple[int, bytes]:
    """Send ``first`` then chunked zeros, up to ``total`` bytes, until the server answers; (sent, answer)."""
    payload = bytes(MIB)
    chunk = f"{len(payload):x}\r\n".encode() + payload + b"\r\n"
    sent = 0
    try:
        sock.sendall(f"{len(first):x}\r\n".encode() + first + b"\r\n")
        sent += len(first)
        while sent < total:
            readable, _, _ = select.select([sock], [], [], 0)
            if readable:
                break
            sock.sendall(chunk)
            sent += len(payload)
    except (BrokenPipeError, ConnectionResetError):
        pass
    return sent, _response(sock)


def _wav_header(seconds: float) -> bytes:
    size = int(seconds * 16000) * 2
    fmt = struct.pack("<IHHIIHH", 16, 1, 1, 16000, 32000, 2, 16)
    riff = struct.pack("<I", min(size + 36, 2**32 - 1))
    return b"RIFF" + riff + b"WAVEfmt " + fmt + b"data" + struct.pack("<I", min(size, 2**32 - 1))


def test_a_10_gb_upload_is_refused_without_being_buffered(live_service) -> None:
    server, key = live_service(max_upload_bytes=8 * MIB)
    upload_dir = server.server.config.app.state.config.upload_dir
    # Declared: refused from the Content-Length before any of the body is read.
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.sendall(_request_head(key, "b0", f"Content-Length: {10 * 1024**3}\r\n"))
        answer = _response(sock)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    # Undeclared (chunked): cut off once past the limit, while the client is still sending.
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.sendall(_request_head(key, "b1", "Transfer-Encoding: chunked\r\n"))
        sent, answer = _stream_until_refused(sock, _part_head("b1") + _wav_header(1e5), 10 * 1024**3)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert sent < 8 * MIB + 64 * MIB, f"the server read {sent / MIB:.0f} MiB before refusing"
    assert list(upload_dir.iterdir()) == []  # the partial file is gone


def test_a_too_long_recording_is_refused_while_it_streams(live_service) -> None:
    server, key = live_service(max_upload_bytes=20 * 1024**3, max_duration_s=5.0)
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.sendall(_request_head(key, "b2", "Transfer-Encoding: chunked\r\n"))
        sent, answer = _stream_until_refused(sock, _part_head("b2") + _wav_header(10 * 3600), 10 * 1024**3)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert b"limit is 5 s" in answer or sent < 64 * MIB
    assert sent < 64 * MIB, f"the server read {sent / MIB:.0f} MiB before refusing"


def _start(data_dir: Path, model: Path, port: int, log) -> subprocess.Popen:
    command = [sys.executable, "-m", "unmask.cli.main", "--quiet", "serve", "--port", str(port),
               "--data-dir", str(data_dir), "--model", str(model), "--device", "cpu", "--workers", "1",
               "--threads", "1", "--log-level", "warning"]
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"unmask serve exited with {process.returncode}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError("unmask serve did not start in 120 s")


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_every_job_ends_with_a_result_after_a_sigkill_mid_queue(tmp_path: Path) -> None:
    from unmask.models.checkpoint import Checkpoint, save_checkpoint
    from unmask.service.config import default_db_url
    from unmask.service.db import ServiceStore

    model = tmp_path / "tiny.pt"
    save_checkpoint(model, Checkpoint(tiny_detector().model))
    data_dir = tmp_path / "serve"
    data_dir.mkdir()
    store = ServiceStore(default_db_url(data_dir))
    key, _ = store.create_key("restart test")
    headers = {"Authorization": f"Bearer {key}"}
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    clip = wav_bytes(120.0)  # ~1 s of scoring each: the queue is still full when the server dies
    with (tmp_path / "server.log").open("wb") as log:
        first = _start(data_dir, model, port, log)
        try:
            ids = []
            for i in range(6):
                response = httpx.post(f"{url}/v1/scans", files={"file": (f"clip{i}.wav", clip)},
                                      headers=headers, timeout=30)
                assert response.status_code == 202, response.text
                ids.append(response.json()["id"])
            listed = httpx.get(f"{url}/v1/scans", headers=headers).json()["items"]
            before = {s["id"]: s["status"] for s in listed}
        finally:
            os.kill(first.pid, signal.SIGKILL)
            first.wait(30)
        unfinished = [i for i in ids if before[i] in ("queued", "running")]
        assert len(unfinished) >= 2, f"the queue had drained before the kill: {before}"
        second = _start(data_dir, model, port, log)
        try:
            deadline = time.monotonic() + 180
            while time.monotonic() < deadline:
                scans = {s["id"]: s for s in httpx.get(f"{url}/v1/scans", headers=headers).json()["items"]}
                if all(scans[i]["status"] in ("done", "failed") for i in ids):
                    break
                time.sleep(0.3)
            assert all(scans[i]["status"] == "done" for i in ids), {i: scans[i]["status"] for i in ids}
            for scan_id in ids:
                result = scans[scan_id]["result"]
                assert result["verdict"] in ("real", "uncertain", "fake") and len(result["timeline"]) == 239
            assert list((data_dir / "uploads").iterdir()) == []
        finally:
            second.send_signal(signal.SIGTERM)
            try:
                second.wait(30)
            except subprocess.TimeoutExpired:
                second.kill()
    store.close()
