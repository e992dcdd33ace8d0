"""Process-wide settings for unmask's batch jobs (the ``unmask`` command and the benchmarks).

Scoring allocates and frees the same few large temporaries (STFT frames, spectra, mixture scores) for
every batch. With glibc's default, allocations above a (dynamic) threshold are fresh ``mmap`` s and freed
heap above twice that is given back to the system, so each batch pays page faults to get zeroed pages
again. Measured on the 2-core development machine, the strip front-end of the default model took 16-25 ms
per 33 s of audio that way against 5-6 ms with freed memory kept (``benchmarks/bench_scan.py`` prints the
whole-scan effect). This is the allocator tuning PyTorch's CPU performance guide recommends (there by
swapping in jemalloc/tcmalloc); here ``mallopt`` does it in-process with no extra dependency.

Set ``UNMASK_MALLOC_TUNING=0`` to leave the allocator alone.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

# glibc <malloc.h>
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_MB = 1 << 20


def keep_freed_memory(mmap_threshold_mb: int = 256, trim_threshold_mb: int = 512) -> bool:
    """Serve allocations below ``mmap_threshold_mb`` from the heap and keep up to ``trim_threshold_mb``
    of freed heap for reuse. Returns True when applied (glibc only; a no-op elsewhere or when
    ``UNMASK_MALLOC_TUNING=0``). Peak memory is unchanged; freed memory is reused instead of returned."""
    if os.environ.get("UNMASK_MALLOC_TUNING", "1") == "0" or not sys.platform.startswith("linux"):
        return False
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (e.g. musl has no mallopt)
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    applied = mallopt(_M_MMAP_THRESHOLD, mmap_threshold_mb * _MB) == 1
    return mallopt(_M_TRIM_THRESHOLD, trim_threshold_mb * _MB) == 1 and applied
