"""glibc ``malloc`` settings for processes that decode one image after another.

glibc serves requests above its mmap threshold (128 KiB at start, raised dynamically) with fresh
``mmap`` pages and gives the top of the heap back to the kernel once more than the trim threshold is
free. A build worker allocates and frees several image-sized buffers per sample (the encoded bytes,
the decoded frame, the cut region), so with the default settings a fresh worker pays a page fault
for every 4 KiB of every frame: measured on 600x450 JPEGs, about 400 minor faults per image and a
third of the worker's CPU time in the kernel (docs/benchmarks.md). Fixing both thresholds keeps the
freed buffers in the heap for the next image.
"""
from __future__ import annotations

import ctypes
import sys

#: ``mallopt`` parameter numbers from glibc's ``malloc.h``.
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3

#: Blocks up to this size come from the heap (glibc's largest allowed value on 64-bit systems).
MMAP_THRESHOLD = 32 * 1024 * 1024
#: Free memory kept at the top of the heap before it is returned to the kernel.
TRIM_THRESHOLD = 128 * 1024 * 1024


def reuse_large_buffers(mmap_threshold: int = MMAP_THRESHOLD,
                        trim_threshold: int = TRIM_THRESHOLD) -> bool:
    """Raise this process's mmap and trim thresholds; False where ``mallopt`` is not glibc's."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    return bool(mallopt(M_MMAP_THRESHOLD, mmap_threshold)) and bool(
        mallopt(M_TRIM_THRESHOLD, trim_threshold))
