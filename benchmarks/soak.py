"""Soak the engine: many turns on the tiny deterministic model, in a fresh process.

    .venv/bin/python -m benchmarks.soak MODEL_DIR [--turns 500] [--warmup 200] [--json OUT]

Every answer must be exact; afterwards threads and the temp directory must be as they were and
resident memory must not have grown by more than a few MB. Measured in a process of its own,
so nothing else's allocations blur the figure. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import gc
import json
import statistics
import tempfile
import threading
import time
import tracemalloc
from pathlib import Path

import psutil

from benchmarks.signals import speech_like
from core import StreamingEngine
from core.config import validate_config
from core.tiny_model import TINY_SENTENCE


def rss_mb() -> float:
    """Resident memory after handing freed heap back to the OS, so that what is measured is
    memory still held, not what glibc's per-thread arenas happen to keep cached."""
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    return psutil.Process().memory_info().rss / 2**20


async def soak(model: str, turns: int, warmup: int) -> dict:
    config = validate_config(
        {
            "model": {"id": model, "device": "cpu"},
            "audio": {"handoff": "file"},
            "memory": {"turns": 4},
        }
    )
    engine = StreamingEngine(config)
    await engine.initialize()
    clip = speech_like()
    temp_root = Path(tempfile.gettempdir())
    wrong = 0

    async def turn(i: int) -> None:
        nonlocal wrong
        mode = "transcribe" if i % 5 == 0 else "conversation"
        result = await engine.process_realtime_chunk(clip, i, mode)
        wrong += result.get("text") != TINY_SENTENCE

    # Warm-up to steady state: caches fill and the conversation memory reaches its size.
    # RSS moves in steps of ~8-16 MB as large blocks are mapped and unmapped, so the figure
    # compares the median of the last 20 readings of the warm-up with that of the soak.
    window = 20
    before: list[float] = []
    for i in range(warmup):
        await turn(i)
        if i >= warmup - window:
            before.append(rss_mb())
    threads = sorted(t.name for t in threading.enumerate())
    temp_before = set(temp_root.iterdir())
    # Python objects only (tracemalloc): it sees only what is allocated after it starts, so
    # its baseline is read from turn 100 on.
    # Both compare medians of 20 readings, so one turn's buffers caught alive don't count.
    tracemalloc.start()
    heap_before: list[float] = []
    heap_after: list[float] = []
    after: list[float] = []
    started = time.perf_counter()
    for i in range(turns):
        await turn(i)
        if 100 <= i < 100 + window:
            gc.collect()
            heap_before.append(tracemalloc.get_traced_memory()[0] / 2**20)
        if i >= turns - window:
            after.append(rss_mb())
            heap_after.append(tracemalloc.get_traced_memory()[0] / 2**20)
    elapsed = time.perf_counter() - started
    heap_growth = statistics.median(heap_after) - statistics.median(
        heap_before or heap_after
    )
    tracemalloc.stop()
    start_rss, end_rss = statistics.median(before), statistics.median(after)
    result = {
        "turns": turns,
        "warmup_turns": warmup,
        "wrong_answers": wrong,
        "rss_start_mb": round(start_rss, 1),
        "rss_growth_mb": round(end_rss - start_rss, 2),
        "python_heap_growth_mb": round(heap_growth, 3),
        "threads_same": sorted(t.name for t in threading.enumerate()) == threads,
        "temp_leftovers": sorted(
            str(p) for p in set(temp_root.iterdir()) - temp_before
        ),
        "turns_per_s": round(turns / elapsed, 1),
    }
    await engine.close()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "model", help="a tiny model folder (python -m core.tiny_model OUT)"
    )
    parser.add_argument("--turns", type=int, default=500)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    result = asyncio.run(soak(args.model, args.turns, args.warmup))
    print(json.dumps(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
