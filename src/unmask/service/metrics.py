"""Counters for ``GET /metrics``, written in the Prometheus text exposition format (version 0.0.4)."""

from __future__ import annotations

import os
import resource
import threading
import time
from collections import defaultdict

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)


def _labels(**labels: str) -> str:
    inner = ",".join(
        f'{k}="{str(v).replace(chr(92), chr(92) * 2).replace(chr(34), chr(92) + chr(34))}"'
        for k, v in labels.items()
    )
    return "{" + inner + "}" if inner else ""


class _Histogram:
    def __init__(self) -> None:
        self.counts = [0] * len(BUCKETS)
        self.total = 0
        self.sum = 0.0

    def observe(self, value: float) -> None:
        self.total += 1
        self.sum += value
        for i, bound in enumerate(BUCKETS):
            if value <= bound:
                self.counts[i] += 1


def rss_bytes() -> int:
    try:
        with open("/proc/self/statm") as handle:
            return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


class Metrics:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.started = time.time()
        self.requests: dict[tuple[str, str, int], int] = defaultdict(int)
        self.latency: dict[str, _Histogram] = defaultdict(_Histogram)
        self.scans: dict[tuple[str, str], int] = defaultdict(int)
        self.scan_seconds = _Histogram()
        self.refused: dict[int, int] = defaultdict(int)

    def request(self, method: str, route: str, status: int, seconds: float) -> None:
        with self.lock:
            self.requests[(method, route, status)] += 1
            self.latency[route].observe(seconds)

    def scan(self, status: str, verdict: str | None, seconds: float) -> None:
        with self.lock:
            self.scans[(status, verdict or "none")] += 1
            self.scan_seconds.observe(seconds)

    def upload_refused(self, status: int) -> None:
        with self.lock:
            self.refused[status] += 1

    def render(self, jobs: dict[str, int], workers: int, busy: int) -> str:
        out: list[str] = []

        def family(name: str, kind: str, help_text: str) -> None:
            out.append(f"# HELP {name} {help_text}")
            out.append(f"# TYPE {name} {kind}")

        def histogram(name: str, hist: _Histogram, **labels: str) -> None:
            for bound, count in zip(BUCKETS, hist.counts, strict=True):
                out.append(f"{name}_bucket{_labels(**labels, le=repr(bound))} {count}")
            out.append(f"{name}_bucket{_labels(**labels, le='+Inf')} {hist.total}")
            out.append(f"{name}_sum{_labels(**labels)} {hist.sum:.6f}")
            out.append(f"{name}_count{_labels(**labels)} {hist.total}")

        with self.lock:
            family("unmask_http_requests_total", "counter", "HTTP requests by method, route and status.")
            for (method, route, status), n in sorted(self.requests.items()):
                labels = _labels(method=method, route=route, status=str(status))
                out.append(f"unmask_http_requests_total{labels} {n}")
            family("unmask_http_request_duration_seconds", "histogram", "Time to answer a request.")
            for route, hist in sorted(self.latency.items()):
                histogram("unmask_http_request_duration_seconds", hist, route=route)
            family("unmask_scans_finished_total", "counter", "Scan jobs finished since start, by status.")
            for (status, verdict), n in sorted(self.scans.items()):
                out.append(f"unmask_scans_finished_total{_labels(status=status, verdict=verdict)} {n}")
            family("unmask_scan_duration_seconds", "histogram", "Time a worker spent on one scan job.")
            histogram("unmask_scan_duration_seconds", self.scan_seconds)
            family("unmask_uploads_refused_total", "counter", "Uploads refused, by HTTP status.")
            for status, n in sorted(self.refused.items()):
                out.append(f"unmask_uploads_refused_total{_labels(status=str(status))} {n}")
        family("unmask_scan_jobs", "gauge", "Scan jobs in the store, by status.")
        for status, n in sorted(jobs.items()):
            out.append(f"unmask_scan_jobs{_labels(status=status)} {n}")
        family("unmask_workers", "gauge", "Scoring worker threads.")
        out.append(f"unmask_workers {workers}")
        family("unmask_workers_busy", "gauge", "Scoring workers scoring a job now.")
        out.append(f"unmask_workers_busy {busy}")
        family("process_resident_memory_bytes", "gauge", "Resident memory of the server process.")
        out.append(f"process_resident_memory_bytes {rss_bytes()}")
        family("unmask_process_peak_resident_memory_bytes", "gauge", "Peak resident memory since start.")
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        out.append(f"unmask_process_peak_resident_memory_bytes {peak}")
        family("process_start_time_seconds", "gauge", "Start time of the process (Unix time).")
        out.append(f"process_start_time_seconds {self.started:.3f}")
        return "\n".join(out) + "\n"
