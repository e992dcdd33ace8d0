"""The scoring workers: threads that claim queued jobs from the store and score them with the Detector.

Every job ends as ``done`` (a verdict) or ``failed`` (with its reason: the ScanResult's error, an
unexpected exception, or a file that is gone); none is dropped. The store is the queue, so jobs queued
before a restart are picked up after it, and a job a dead server left ``running`` is queued again by
:meth:`unmask.service.db.ServiceStore.recover` before the workers start.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from pathlib import Path

from unmask.detect.pipeline import Detector
from unmask.service.config import ServiceConfig
from unmask.service.db import ServiceStore, retention_deadline
from unmask.service.metrics import Metrics

log = logging.getLogger("unmask.service")


def _public_text(text: str | None, stored: str, filename: str) -> str | None:
    """Messages name the file as the user knows it, never the server's storage path."""
    return text.replace(stored, filename) if text else text


class WorkerPool:
    def __init__(
        self, store: ServiceStore, detector: Detector, config: ServiceConfig, metrics: Metrics
    ) -> None:
        self.store = store
        self.detector = detector
        self.config = config
        self.metrics = metrics
        self.wake = threading.Condition()
        self.pending_wakeups = 0
        self.stopping = threading.Event()
        self.threads: list[threading.Thread] = []
        self.busy = 0
        self.busy_lock = threading.Lock()

    # -- life cycle ---------------------------------------------------------------------------------
    def start(self) -> None:
        requeued, failed = self.store.recover(self.config.max_attempts)
        if requeued or failed:
            log.warning("resuming after a stop: %d job(s) queued again, %d failed", requeued, failed)
        self.sweep_orphans()
        for i in range(self.config.workers):
            thread = threading.Thread(target=self._loop, name=f"unmask-worker-{i}", daemon=True)
            thread.start()
            self.threads.append(thread)
        janitor = threading.Thread(target=self._janitor, name="unmask-janitor", daemon=True)
        janitor.start()
        self.threads.append(janitor)

    def stop(self, timeout: float = 30.0) -> None:
        """Stop taking jobs; a job being scored finishes (up to ``timeout``), the rest stay queued."""
        self.stopping.set()
        with self.wake:
            self.wake.notify_all()
        deadline = time.monotonic() + timeout
        for thread in self.threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    def notify(self) -> None:
        with self.wake:
            self.pending_wakeups += 1
            self.wake.notify()

    def sweep_orphans(self) -> None:
        """Delete files in the upload folder that no job refers to (left by a server killed mid-upload)."""
        folder = self.config.upload_dir
        if not folder.is_dir():
            return
        referenced = self.store.stored_paths()
        for entry in folder.iterdir():
            if entry.is_file() and str(entry) not in referenced:
                entry.unlink(missing_ok=True)

    # -- work ---------------------------------------------------------------------------------------
    def _loop(self) -> None:
        while not self.stopping.is_set():
            try:
                job = self.store.claim_next()
            except Exception:  # the database is away for a moment: wait and retry, never die
                log.exception("cannot claim a job")
                job = None
            if job is None:
                with self.wake:
                    if self.pending_wakeups == 0 and not self.stopping.is_set():
                        self.wake.wait(self.config.poll_interval_s)
                    self.pending_wakeups = max(0, self.pending_wakeups - 1)
                continue
            with self.busy_lock:
                self.busy += 1
            try:
                self.run_job(job)
            finally:
                with self.busy_lock:
                    self.busy -= 1

    def run_job(self, job: dict) -> None:
        started = time.perf_counter()
        stored = job["stored_path"] or ""
        filename = job["filename"]
        result = spectrogram = error = None
        status = "failed"
        try:
            if not stored or not Path(stored).is_file():
                error = f"{filename}: the media file is no longer on the server (deleted before scoring)"
            else:
                scanned = self.detector.scan(stored)
                result = json.loads(json.dumps(scanned.to_dict(), default=str, allow_nan=False))
                result["path"] = filename
                result["error"] = _public_text(result.get("error"), stored, filename)
                if scanned.ok:
                    status = "done"
                    try:
                        from unmask.service.spectrogram import spectrogram as make_spectrogram

                        spectrogram = make_spectrogram(stored, limits=self.detector.settings.limits)
                    except Exception:  # the picture is a nicety: a verdict without one is still a verdict
                        log.exception("spectrogram of job %s failed", job["id"])
                else:
                    error = result["error"]
        except Exception as exc:  # a bug or an unforeseen failure: the job is failed with the reason
            log.exception("job %s failed", job["id"])
            error = _public_text(f"{filename}: unexpected error while scoring: {exc!r}", stored, filename)
        keep = job["source"] == "upload" and self.config.retention_hours > 0 and bool(stored)
        try:
            recorded = self.store.finish_scan(
                job["id"], status=status, result=result, error=error, spectrogram=spectrogram,
                purge_after=retention_deadline(self.config.retention_hours) if keep else None,
                keep_path=keep,
            )
        except Exception:
            log.exception("cannot record the result of job %s; it stays running and resumes on restart",
                          job["id"])
            return
        if job["source"] == "upload" and stored and (not keep or not recorded):
            Path(stored).unlink(missing_ok=True)  # scored, or its scan was deleted meanwhile
        self.metrics.scan(status, (result or {}).get("verdict"), time.perf_counter() - started)

    def _janitor(self) -> None:
        while not self.stopping.wait(60.0):
            self.purge_expired()

    def purge_expired(self) -> int:
        """Delete retained uploads whose retention has run out; returns how many."""
        done = 0
        try:
            for scan_id, path in self.store.expired_uploads():
                Path(path).unlink(missing_ok=True)
                self.store.forget_upload(scan_id)
                done += 1
        except Exception:
            log.exception("purging retained uploads failed")
        return done
