"""Deployment settings read from the environment (hosted demo vs local use)."""

from __future__ import annotations

import os
from dataclasses import dataclass


def _flag(name: str, default: bool) -> bool:
    v = os.environ.get(name)
    return default if v is None else v.strip().lower() in ("1", "true", "yes", "on")


def _int(name: str, default: int) -> int:
    try:
        return int(os.environ.get(name, default))
    except ValueError:
        return default


@dataclass(frozen=True)
class Settings:
    hosted: bool
    allow_local_paths: bool
    max_images: int
    max_epochs: int
    max_upload_mb: int
    allow_full_finetune: bool
    server_memory_mb: int  # the whole server process should stay under this (heavy jobs are admitted to fit)
    heavy_jobs: int  # how many heavy jobs (training, Discover, sorting, Grad-CAM batches) run at once
    session_idle_s: int  # a session idle this long expires and releases everything it held
    run_memory_mb: int  # one training run keeps the whole process under this (its cached maps are sized to fit)
    lean_memory: bool = False  # big buffers get their own mappings: freed memory goes back at once, ~15% slower


def load_settings() -> Settings:
    """GS_HOSTED=1 switches on hosted mode: no local paths, tighter limits.

    Each limit can also be set on its own (GS_ALLOW_LOCAL_PATHS, GS_MAX_IMAGES,
    GS_MAX_EPOCHS, GS_MAX_UPLOAD_MB, GS_ALLOW_FULL_FINETUNE, GS_SERVER_MEMORY_MB,
    GS_HEAVY_JOBS, GS_SESSION_IDLE_S: two hours by default, GS_RUN_MEMORY_MB, GS_LEAN_MEMORY). Hosted, the server
    stays under 2.2 GB (Community Cloud gives the whole app about 2.7 GB); locally, under three
    quarters of the machine's RAM. A training run sizes its cached inputs to keep the process under
    1.5 GB anywhere: a laptop's time budget bounds them before that does.
    """
    hosted = _flag("GS_HOSTED", False)
    return Settings(
        hosted=hosted,
        allow_local_paths=_flag("GS_ALLOW_LOCAL_PATHS", not hosted),
        max_images=_int("GS_MAX_IMAGES", 2000 if hosted else 20000),
        max_epochs=_int("GS_MAX_EPOCHS", 30 if hosted else 200),
        max_upload_mb=_int("GS_MAX_UPLOAD_MB", 200 if hosted else 2000),
        allow_full_finetune=_flag("GS_ALLOW_FULL_FINETUNE", not hosted),
        server_memory_mb=max(512, _int("GS_SERVER_MEMORY_MB", 2200 if hosted else int(0.75 * ram_mb()))),
        heavy_jobs=max(1, _int("GS_HEAVY_JOBS", max(1, cpu_count() // 2))),
        session_idle_s=max(1, _int("GS_SESSION_IDLE_S", 2 * 3600)),
        run_memory_mb=max(800, _int("GS_RUN_MEMORY_MB", 1500)),
        lean_memory=_flag("GS_LEAN_MEMORY", hosted),
    )


def apply_memory_policy(settings: Settings) -> None:
    """The allocator settings a process takes once, at its start: hosted, fewer heaps; lean, big buffers mapped."""
    if settings.hosted:
        limit_heap_arenas()  # session threads made from now on share two heaps: memory returns after visitors
    if settings.lean_memory:
        map_big_buffers()  # a freed batch or photo goes back to the OS, not into a fragmented heap


def ram_mb() -> int:
    """The memory this process may use: the machine's RAM, or the container's limit when lower."""
    total = 4096
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2**20
    except (ValueError, OSError, AttributeError):
        pass
    for limit_file in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            text = open(limit_file).read().strip()
        except OSError:
            continue
        if text.isdigit():
            total = min(total, int(text) // 2**20)
        break
    return total


def rss_mb() -> float:
    """This process's resident memory now (MB); 0 when it cannot be read."""
    try:
        pages = int(open("/proc/self/statm").read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        return 0.0


def cpu_count() -> int:
    """The cores this process may use: its affinity, or the container's CPU quota when lower."""
    try:
        n = len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        n = os.cpu_count() or 1
    try:
        quota, period = open("/sys/fs/cgroup/cpu.max").read().split()
        if quota != "max":
            n = min(n, max(1, round(int(quota) / int(period))))
    except (OSError, ValueError):
        pass
    return max(1, n)


_ARENAS_LIMITED = False


def limit_heap_arenas(arenas: int = 2) -> bool:
    """Let glibc keep at most ``arenas`` heaps, whatever the number of threads (True if it took).

    A server runs a thread per session and per job; glibc gives threads their own 64 MB heaps,
    which fragment and stay resident after the sessions are gone (a 15-minute soak of the hosted
    demo ended 35% above its idle memory, three such heaps almost fully resident). Threads made
    after this call share the limited heaps; allocation is slower only under heavy contention.
    """
    global _ARENAS_LIMITED
    if _ARENAS_LIMITED:
        return True
    import ctypes

    try:
        _ARENAS_LIMITED = bool(ctypes.CDLL("libc.so.6").mallopt(-8, int(arenas)))  # M_ARENA_MAX
    except (OSError, AttributeError):  # not glibc: its allocator has no such knob
        return False
    return _ARENAS_LIMITED


_BIG_BUFFERS_MAPPED = False
BIG_BUFFER = 4 << 20


def map_big_buffers(threshold: int = BIG_BUFFER) -> bool:
    """Give every buffer of ``threshold`` bytes or more its own mapping, returned to the OS when freed.

    glibc raises its mmap threshold each time such a buffer is freed (up to 32 MB), after which a
    training batch's activations and a decoded photo land in the heap, fragment it and stay
    resident: the labelling-free journey on 528 photos peaked at 1,508-1,530 MB, 1,441-1,446 with
    4 MB buffers mapped (runs 15% longer: every mapping is fresh pages). Hosted mode, where memory
    is the limit, turns it on (``Settings.lean_memory``); a laptop keeps the speed. True if it took.
    """
    global _BIG_BUFFERS_MAPPED
    if _BIG_BUFFERS_MAPPED:
        return True
    import ctypes

    try:
        _BIG_BUFFERS_MAPPED = bool(ctypes.CDLL("libc.so.6").mallopt(-3, int(threshold)))  # M_MMAP_THRESHOLD
    except (OSError, AttributeError):  # not glibc
        return False
    return _BIG_BUFFERS_MAPPED


def trim_heap() -> None:
    """Hand the heap's free pages back to the OS (glibc's ``malloc_trim``; milliseconds).

    A long stream of photos (sorting a gallery) frees a decoded photo's buffers thousands of
    times; glibc keeps them in its heaps, and the process grew with the gallery: sorting 20,740
    photos peaked at 4,058 MB. Streams call this every few hundred photos.
    """
    import ctypes

    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc (macOS, musl): nothing to trim
        pass
