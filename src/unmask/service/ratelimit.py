"""A token bucket per API key: ``per_minute`` requests a minute, bursts up to the same number."""

from __future__ import annotations

import threading
import time


class RateLimiter:
    def __init__(self, per_minute: int, *, clock=time.monotonic) -> None:
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0
        self.clock = clock
        self.buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, last refill time)
        self.lock = threading.Lock()

    def take(self, key: str) -> float:
        """0.0 when the request may go ahead, else the seconds until it may."""
        if self.capacity <= 0:
            return 0.0
        now = self.clock()
        with self.lock:
            tokens, then = self.buckets.get(key, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - then) * self.rate)
            if tokens >= 1.0:
                self.buckets[key] = (tokens - 1.0, now)
                return 0.0
            self.buckets[key] = (tokens, now)
            return (1.0 - tokens) / self.rate
