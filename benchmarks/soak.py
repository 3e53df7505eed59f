"""Soak the engine: many turns on the tiny deterministic model, in a fresh process.

    .venv/bin/python -m benchmarks.soak MODEL_DIR [--turns 500] [--warmup 200] [--json OUT]

Every answer must be exact; afterwards threads, the temp directory and the number of live
Python objects must be as they were, and resident memory must not have grown by 20 MB. Measured in a process of its own,
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
from pathlib import Path

import psutil

from core import StreamingEngine
from core.config import validate_config
from testkit.signals import speech_like
from testkit.tiny_model import TINY_SENTENCE


def rss_mb() -> float:
    """Resident memory after handing freed heap back to the OS, so that what is measured is
    memory still held, not what glibc's per-thread arenas happen to keep cached."""
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    return psutil.Process().memory_info().rss / 2**20


async def settled_rss_mb() -> float:
    """RSS once the engine's threads have let go of the last turn: read at once, a reading
    sometimes catches a turn's last buffers (tens of MB) still alive in the generation
    thread."""
    await asyncio.sleep(0.1)
    return rss_mb()


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
    # Trimmed RSS still jumps up by tens of MB for a while as large blocks are mapped and
    # unmapped, so the figure compares the lowest of the last 20 readings of the warm-up
    # with the lowest of the soak's: memory that is really held raises every reading after
    # it, the lowest included, while a jump passes.
    window = 20
    before: list[float] = []
    for i in range(warmup):
        await turn(i)
        if i >= warmup - window:
            before.append(await settled_rss_mb())
    threads = sorted(t.name for t in threading.enumerate())
    temp_before = set(temp_root.iterdir())
    # Python objects tracked by the collector: exact, so any per-turn accumulation shows.
    objects_before = len(gc.get_objects())
    after: list[float] = []
    started = time.perf_counter()
    for i in range(turns):
        await turn(i)
        if i >= turns - window:
            after.append(await settled_rss_mb())
    elapsed = time.perf_counter() - started
    objects_after = len(gc.get_objects())
    start_rss, end_rss = min(before), min(after)
    result = {
        "turns": turns,
        "warmup_turns": warmup,
        "wrong_answers": wrong,
        "rss_start_mb": round(start_rss, 1),
        "rss_growth_mb": round(end_rss - start_rss, 2),
        "rss_range_mb": [round(min(before + after), 1), round(max(before + after), 1)],
        "rss_median_growth_mb": round(
            statistics.median(after) - statistics.median(before), 2
        ),
        "python_objects_growth": objects_after - objects_before,
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
        "model", help="a tiny model folder (python -m testkit.tiny_model OUT)"
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
