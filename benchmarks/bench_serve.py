"""Load on ``unmask serve`` over loopback: N concurrent clients upload a clip and wait for its verdict, for a
fixed time.

Usage: .venv/bin/python benchmarks/bench_serve.py [--clients 4] [--seconds 20] [--clip-seconds 5]
                                                   [--workers 1] [--model default] [--db URL] [--json]

Starts ``unmask serve`` as a subprocess on 127.0.0.1 (a free port, a temporary data folder, SQLite unless
``--db`` is given, rate limit off), creates an API key, and runs ``--clients`` threads, each with its own
HTTP connection, in a loop until ``--seconds`` have passed: upload one ``--clip-seconds`` 16 kHz WAV
(``POST /v1/scans``, multipart) and poll ``GET /v1/scans/{id}`` every 50 ms until it is done. Every scan
in flight at the deadline is waited for (at most 120 s), so none is counted half-way.

Prints: scans completed, throughput (scans/s and audio seconds scored per second), latency percentiles
(p50/p95/p99) of the upload request and of the whole scan (upload to verdict, queueing included), errors
(non-202 uploads, failed scans, transport errors: must be 0), and the server's peak RSS (VmHWM of the server
process, model included). Nothing but loopback is touched; the server is stopped at the end.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import soundfile as sf

RATE = 16000


def speech_like(seconds: float, seed: int = 0) -> bytes:
    """A pitch-varying pulse train through two resonances with a syllable-rate envelope, as WAV bytes."""
    from scipy.signal import lfilter

    rng = np.random.default_rng(seed)
    n = int(seconds * RATE)
    t = np.arange(n) / RATE
    pitch = 120 * (1 + 0.15 * np.sin(2 * np.pi * 0.6 * t))
    pulses = (np.diff(np.floor(np.cumsum(pitch / RATE)), prepend=0) > 0).astype(float)
    signal_ = pulses + 0.02 * rng.standard_normal(n)
    for formant, bandwidth in ((650, 80), (1400, 120)):
        r = np.exp(-np.pi * bandwidth / RATE)
        signal_ = lfilter([1 - r], [1, -2 * r * np.cos(2 * np.pi * formant / RATE), r * r], signal_)
    signal_ *= 0.5 + 0.5 * np.sin(2 * np.pi * 2.5 * t) ** 2
    buffer = io.BytesIO()
    sf.write(buffer, (0.3 * signal_ / np.abs(signal_).max()).astype(np.float32), RATE, format="WAV")
    return buffer.getvalue()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def peak_rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as handle:
        for line in handle:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {"p50": float("nan"), "p95": float("nan"), "p99": float("nan")}
    q = np.percentile(np.asarray(values), [50, 95, 99])
    return {"p50": float(q[0]), "p95": float(q[1]), "p99": float(q[2])}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--clip-seconds", type=float, default=5.0)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--threads", type=int, default=0, help="torch threads of the server (0: automatic)")
    parser.add_argument("--model", default="default")
    parser.add_argument("--db", default=None, help="database URL (default: SQLite in a temporary folder)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    from unmask.service.config import default_db_url
    from unmask.service.db import ServiceStore

    data_dir = Path(tempfile.mkdtemp(prefix="unmask-bench-serve-"))
    store = ServiceStore(args.db or default_db_url(data_dir))
    key, _ = store.create_key("bench_serve")
    store.close()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "unmask.cli.main", "--quiet", "serve", "--host", "127.0.0.1",
               "--port", str(port), "--data-dir", str(data_dir), "--model", args.model,
               "--workers", str(args.workers), "--threads", str(args.threads), "--rate-limit", "0",
               "--log-level", "warning"]
    if args.db:
        command += ["--db", args.db]
    log = (data_dir / "server.log").open("wb")
    server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 180
        while True:
            if server.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"the server did not start; see {data_dir / 'server.log'}")
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        clip = speech_like(args.clip_seconds)
        headers = {"Authorization": f"Bearer {key}"}
        # One warm-up scan (first-call costs: allocator, caches), not counted.
        with httpx.Client(base_url=url, headers=headers, timeout=120) as client:
            first = client.post("/v1/scans", files={"file": ("warmup.wav", clip)}).json()["id"]
            while client.get(f"/v1/scans/{first}").json()["status"] in ("queued", "running"):
                time.sleep(0.05)

        upload_s: list[float] = []
        scan_s: list[float] = []
        errors: list[str] = []
        requests = [0]
        lock = threading.Lock()
        stop_at = time.monotonic() + args.seconds

        def client_loop(index: int) -> None:
            with httpx.Client(base_url=url, headers=headers, timeout=120) as client:
                while time.monotonic() < stop_at:
                    started = time.perf_counter()
                    try:
                        response = client.post("/v1/scans", files={"file": (f"c{index}.wav", clip)})
                        uploaded = time.perf_counter()
                        sent = 1
                        if response.status_code != 202:
                            raise RuntimeError(f"upload: {response.status_code} {response.text[:200]}")
                        scan_id = response.json()["id"]
                        wait_until = time.monotonic() + 120
                        while True:
                            scan = client.get(f"/v1/scans/{scan_id}").json()
                            sent += 1
                            if scan["status"] not in ("queued", "running"):
                                break
                            if time.monotonic() > wait_until:
                                raise RuntimeError("no verdict within 120 s")
                            time.sleep(0.05)
                        finished = time.perf_counter()
                        with lock:
                            requests[0] += sent
                            if scan["status"] != "done":
                                errors.append(f"scan failed: {scan['error']}")
                            else:
                                upload_s.append(uploaded - started)
                                scan_s.append(finished - started)
                    except Exception as exc:  # counted, never hidden
                        with lock:
                            errors.append(repr(exc))

        began = time.perf_counter()
        threads = [threading.Thread(target=client_loop, args=(i,)) for i in range(args.clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - began
        rss = peak_rss_mib(server.pid)
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()

    report = {
        "command": " ".join(["benchmarks/bench_serve.py", *sys.argv[1:]]),
        "clients": args.clients,
        "seconds": round(elapsed, 2),
        "clip_seconds": args.clip_seconds,
        "workers": args.workers,
        "model": args.model,
        "store": "postgresql" if args.db else "sqlite",
        "cpu_cores": os.cpu_count(),
        "scans": len(scan_s),
        "http_requests": requests[0],
        "scans_per_s": round(len(scan_s) / elapsed, 3),
        "audio_s_per_s": round(len(scan_s) * args.clip_seconds / elapsed, 2),
        "upload_latency_ms": {k: round(v * 1000, 1) for k, v in percentiles(upload_s).items()},
        "scan_latency_ms": {k: round(v * 1000, 1) for k, v in percentiles(scan_s).items()},
        "errors": len(errors),
        "error_samples": errors[:5],
        "server_peak_rss_mib": round(rss, 1),
    }
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(f"unmask serve under load: {args.clients} clients for {elapsed:.1f} s, "
              f"{args.clip_seconds:g} s clips, {args.workers} worker(s), model {args.model}, "
              f"{report['store']}, {os.cpu_count()} CPU cores")
        print(f"  scans completed      {report['scans']} ({report['http_requests']} HTTP requests)")
        rates = f"{report['scans_per_s']} scans/s, {report['audio_s_per_s']} s of audio/s"
        print(f"  throughput           {rates}")
        for name in ("upload_latency_ms", "scan_latency_ms"):
            q = report[name]
            label = "upload latency" if name.startswith("upload") else "upload-to-verdict"
            print(f"  {label:<20} p50 {q['p50']:.1f} ms  p95 {q['p95']:.1f} ms  p99 {q['p99']:.1f} ms")
        print(f"  errors               {report['errors']}" + (f"  e.g. {errors[0]}" if errors else ""))
        print(f"  server peak RSS      {report['server_peak_rss_mib']} MiB")
    return 1 if errors else 0


if __name__ == "__main__":
    raise SystemExit(main())
