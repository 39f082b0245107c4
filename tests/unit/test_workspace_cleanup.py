"""Closed or expired sessions give back what they held: jobs, queue places, caches, models, ONNX sessions."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
import torch
from torch import nn

from core.models import runtime
from core.session.jobs import Job
from core.session.scheduler import Scheduler
from core.session.workspace import TRIM_IDLE_SECONDS, Registry


def _hold(gate):
    def work(on_event, should_stop):
        while not gate.is_set() and not should_stop():
            time.sleep(0.01)
        return "held"

    return work


def test_expiry_releases_the_cache_the_models_and_the_jobs_running_or_queued(tmp_path):
    reg = Registry(tmp_path, idle_seconds=60)
    sched = Scheduler(budget_mb=1000, slots=1)
    other, ws = reg.get(None), reg.get(None)
    gate = threading.Event()
    theirs = other.train.slot.start(Job("train", _hold(gate), need_mb=100, owner=other.id, sched=sched))
    mine = ws.sort.slot.start(Job("sort", _hold(gate), need_mb=100, owner=ws.id, sched=sched))
    assert mine.snapshot().state == "queued"  # behind the other session's training
    ws.cache._put([("tag", 0, "val", "k")], torch.zeros(1, 1280))
    assert ws.cache_mb() > 0
    ws.model.bundle = object()  # a model in use
    other.last_seen = time.time() + 3600  # the other session is still active
    assert reg.sweep(now=time.time() + 1800) == [ws.id]
    assert mine.join(2) and mine.snapshot().state == "stopped"
    assert sched.queued == [] and [t.name for t in sched.running] == ["train"]  # its place is free
    assert ws.cache_mb() == 0 and len(ws.cache) == 0 and ws.model.bundle is None
    assert not ws.dir.exists() and other.dir.exists()
    gate.set()
    assert theirs.join(5) and sched.running == []


def test_closing_a_running_job_frees_its_memory_for_the_next_in_line(tmp_path):
    reg = Registry(tmp_path, idle_seconds=60)
    sched = Scheduler(budget_mb=150, slots=2)
    a, b = reg.get(None), reg.get(None)
    gate = threading.Event()
    running = a.train.slot.start(Job("train", _hold(gate), need_mb=100, owner=a.id, sched=sched))
    waiting = b.train.slot.start(Job("train", _hold(gate), need_mb=100, owner=b.id, sched=sched))
    assert waiting.snapshot().state == "queued"
    reg.release(a.id)  # the tab was closed
    assert running.join(5)
    deadline = time.time() + 5
    while waiting.snapshot().state == "queued" and time.time() < deadline:
        time.sleep(0.01)
    assert waiting.snapshot().state == "running"
    gate.set()
    assert waiting.join(5)


def test_onnx_sessions_only_a_closed_session_used_are_closed():
    pytest.importorskip("onnxruntime")
    shared = nn.Sequential(nn.Conv2d(3, 4, 3)).eval()
    own = nn.Sequential(nn.Conv2d(3, 5, 3)).eval()
    x = torch.zeros(1, 3, 16, 16)
    with runtime.acting_for("ws-a"):
        runtime._onnx_runner(shared, x)
        runtime._onnx_runner(own, x)
    with runtime.acting_for("ws-b"):
        runtime._onnx_runner(shared, x)
    keys = runtime.fingerprint(shared), runtime.fingerprint(own)
    assert all(k in runtime._onnx for k in keys)
    assert runtime.release_owner("ws-a") == 1
    assert keys[0] in runtime._onnx and keys[1] not in runtime._onnx  # ws-b still uses the shared one
    assert runtime.release_owner("ws-b") == 1
    assert keys[0] not in runtime._onnx


def test_over_the_memory_budget_idle_sessions_caches_go_first(tmp_path):
    reg = Registry(tmp_path, idle_seconds=24 * 3600)
    old, recent, active = reg.get(None), reg.get(None), reg.get(None)
    now = time.time()
    for ws, idle in ((old, 3 * TRIM_IDLE_SECONDS), (recent, 2 * TRIM_IDLE_SECONDS), (active, 0)):
        ws.cache._put([("tag", 0, "val", ws.id)], torch.zeros(1, 256, 1024))  # 1 MB
        ws.last_seen = now - idle
    memory = {"mb": 2000.0}

    def rss():
        return memory["mb"] + sum(w.cache_mb() for w in (old, recent, active))

    assert reg.trim(now, limit_mb=5000, rss=rss) == []  # under the budget: nothing dropped
    memory["mb"] = 3000.0 - 3 + 1.5  # 1.5 MB over: the longest idle cache (1 MB) is not enough, the next goes too
    assert reg.trim(now, limit_mb=3000, rss=rss) == [old.id, recent.id]
    assert old.cache_mb() == 0 and recent.cache_mb() == 0 and active.cache_mb() > 0  # the active one is kept


def test_idle_sessions_expire_with_no_page_running(tmp_path):
    reg = Registry(tmp_path, idle_seconds=0.2, sweep_every=0.05)
    ws = reg.get(None)
    ws.cache._put([("tag", 0, "val", "k")], torch.zeros(1, 1280))
    deadline = time.time() + 5
    while len(reg) and time.time() < deadline:
        time.sleep(0.05)
    assert len(reg) == 0  # swept by the registry's own thread: nobody called get() again
    assert ws.cache_mb() == 0 and not ws.dir.exists()


def test_the_server_registry_takes_its_idle_time_from_the_environment(monkeypatch):
    from core.session import workspace

    monkeypatch.setenv("GS_SESSION_IDLE_S", "120")
    reg = workspace._server_registry()
    assert reg.idle_seconds == 120 and reg.sweep_every == 30
    monkeypatch.delenv("GS_SESSION_IDLE_S")
    assert workspace._server_registry().idle_seconds == 2 * 3600


def test_the_last_session_closing_releases_the_servers_shared_warm_state(tmp_path):
    pytest.importorskip("onnxruntime")
    from core.models import backbones

    reg = Registry(tmp_path, idle_seconds=60, release_shared=True)
    a, b = reg.get(None), reg.get(None)
    warm = nn.Sequential(nn.Conv2d(3, 6, 3)).eval()
    runtime._onnx_runner(warm, torch.zeros(1, 3, 16, 16))  # a warm-up: opened for no session in particular
    backbones._pretrained_state("efficientnet_lite0", backbones.WeightsChoice("random"))
    b.last_seen = time.time() + 3600  # still active
    assert reg.sweep(now=time.time() + 1800) == [a.id]
    assert runtime.fingerprint(warm) in runtime._onnx  # b may still use it
    reg.release(b.id)
    assert runtime._onnx == {} and backbones._pretrained_state.cache_info().currsize == 0


def test_a_test_registry_leaves_the_shared_state_alone(tmp_path):
    pytest.importorskip("onnxruntime")
    reg = Registry(tmp_path, idle_seconds=60)
    warm = nn.Sequential(nn.Conv2d(3, 7, 3)).eval()
    runtime._onnx_runner(warm, torch.zeros(1, 3, 16, 16))
    reg.release(reg.get(None).id)
    assert runtime.fingerprint(warm) in runtime._onnx


def test_releasing_memory_frees_what_reference_cycles_held():
    import gc
    import weakref

    from core.session.jobs import release_memory

    class Held:
        pass

    gc.disable()
    try:
        held = Held()
        held.me = held  # a cycle: freed only by the collector
        gone = weakref.ref(held)
        del held
        release_memory(collect=True)
        assert gone() is None
    finally:
        gc.enable()


def test_the_hosted_server_limits_glibc_heaps_once():
    import ctypes.util

    from core.settings import limit_heap_arenas

    if ctypes.util.find_library("c") is None or "glibc" not in " ".join(__import__("platform").libc_ver()):
        return  # another C library: nothing to limit, and nothing claimed
    assert limit_heap_arenas() is True and limit_heap_arenas() is True


FRAGMENT = """
import sys, numpy as np
from core.settings import map_big_buffers
if sys.argv[1] == "1":
    assert map_big_buffers() is True
rss = lambda: int(next(l for l in open("/proc/self/status") if l.startswith("VmRSS")).split()[1]) // 1024
big = np.ones(3_000_000); del big  # a 24 MB batch freed: glibc raises its mmap threshold past 8 MB
bufs, pins = [], []
for _ in range(20):
    bufs.append(np.ones(1_000_000))  # 8 MB photos...
    pins.append(np.ones(50_000))  # ...each followed by something smaller that stays
before = rss()
del bufs
print(before - rss())
"""


def test_the_hosted_server_hands_freed_batches_back_to_the_os():
    import platform
    import subprocess
    import sys

    if "glibc" not in " ".join(platform.libc_ver()) or not Path("/proc/self/status").exists():
        return  # another C library: nothing to set, and nothing claimed
    freed = {
        flag: int(
            subprocess.run([sys.executable, "-c", FRAGMENT, flag], capture_output=True, text=True, check=True).stdout
        )
        for flag in ("0", "1")
    }
    assert freed["0"] < 40  # by default the 160 MB freed between the pins stays resident...
    assert freed["1"] >= 150  # ...mapped, it goes back at once


def test_lean_memory_is_the_hosted_default_and_can_be_set_alone(monkeypatch):
    from core.settings import load_settings

    for hosted, lean, expected in (("0", None, False), ("1", None, True), ("1", "0", False), ("0", "1", True)):
        monkeypatch.setenv("GS_HOSTED", hosted)
        if lean is None:
            monkeypatch.delenv("GS_LEAN_MEMORY", raising=False)
        else:
            monkeypatch.setenv("GS_LEAN_MEMORY", lean)
        assert load_settings().lean_memory is expected
