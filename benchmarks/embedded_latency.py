"""Per-stage latency of the embedded default and the pipeline it replaced, side by side.

    .venv/bin/python -m benchmarks.embedded_latency [--runs 5] [--cold]

Clip: resources/sample-question.wav (4.3 s, espeak-ng) and 0.3 s of silence, as when the
speaker lets go of the key 0.3 s after the last word; pipelines that support it get the
window's preview at the 0.2 s pause (``StreamingEngine.preview``). Every latency is measured
from the release, i.e. the engine call. Each pipeline runs in a process of its own, as in
the app, one after the other in the same run. Decoding speed comes from a longer answer.
Writes benchmarks/results/embedded_latency.json.

--cold also measures a first start of each on an empty cache (assemble, verify and, for the
transformers runtime, convert: over a minute and ~3 GB of temporary disk).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

from benchmarks.engine_overhead import machine
from benchmarks.evaluate_embedded import PAUSE_S, PIPELINES, PREVIEW, RELEASE_S
from core import StreamingEngine, load_config
from core.audio import resample

ROOT = Path(__file__).resolve().parent.parent
CLIP = ROOT / "resources" / "sample-question.wav"
RATE = 16000
LONG_QUESTION = "Can you give me three tips for sleeping better at night?"


def load_in_fresh_process(name: str, cache_dir: str | None = None) -> float:
    """Seconds ``initialize()`` takes in a new process, as when the app starts."""
    script = (
        "import asyncio, json, sys\n"
        "from benchmarks.embedded_latency import start\n"
        "async def main():\n"
        "    engine, seconds = await start(sys.argv[1], sys.argv[2] or None)\n"
        "    await engine.close()\n"
        "    print(json.dumps(seconds))\n"
        "asyncio.run(main())\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, name, cache_dir or ""],
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


async def start(
    name: str, cache_dir: str | None = None
) -> tuple[StreamingEngine, float]:
    embedded = dict(PIPELINES[name])
    if cache_dir:
        embedded["cache_dir"] = cache_dir
    config = load_config(
        overrides={
            "model": {"id": "embedded"},
            "embedded": embedded,
            "memory": {"turns": 0},
            "chunked_response": {"chunk_size_words": 1},
        }
    )
    engine = StreamingEngine(config)
    started = time.perf_counter()
    await engine.initialize()
    return engine, time.perf_counter() - started


async def turn(engine: StreamingEngine, speech: np.ndarray, preview: bool) -> dict:
    if preview:
        await engine.preview(
            np.r_[speech, np.zeros(int(PAUSE_S * RATE), np.float32)], sample_rate=RATE
        )
        await asyncio.sleep(RELEASE_S - PAUSE_S)
    clip = np.r_[speech, np.zeros(int(RELEASE_S * RATE), np.float32)]
    started, first_word_ms, chunks = time.perf_counter(), None, 0
    async for item in engine.process_realtime_chunk_streaming(
        clip, "bench", sample_rate=RATE
    ):
        if item["text"]:
            chunks += 1
            if first_word_ms is None:
                first_word_ms = (time.perf_counter() - started) * 1000
            if chunks == 4:
                fourth_word_ms = (time.perf_counter() - started) * 1000
        final = item
    assert final["success"], final
    t = final["timings"]
    tokens = final["generated_tokens"]
    return {
        "first_word_ms": first_word_ms,
        "first_4_words_ms": fourth_word_ms if chunks >= 4 else None,
        "recognition_ms": t["recognition_ms"],
        "first_token_ms": t["first_token_ms"],
        "prefill_ms": t.get(
            "prefill_ms", t["first_token_ms"] - t["call_to_generate_ms"]
        ),
        "total_ms": final["total_ms"],
        "decode_tokens_per_s": (tokens - 1)
        / ((final["total_ms"] - t["first_token_ms"]) / 1000),
        "generated_tokens": tokens,
        "answer": f"{final['heard']} -> {final['text']}",
    }


def _median(rows: list[dict], field: str) -> float | None:
    values = [r[field] for r in rows if r[field] is not None]
    return round(statistics.median(values), 1) if values else None


async def turns(name: str, runs: int) -> dict:
    """The latency figures of one pipeline, alone in this process as in the app."""
    from testkit.voices import PIPER, speak

    samples, rate = sf.read(CLIP, dtype="float32")
    question = resample(samples, rate, RATE)
    long_question = resample(*speak(LONG_QUESTION, voice=PIPER), RATE)
    engine, _ = await start(name)
    rows, long_rows = [], []
    for _ in range(runs):  # the two questions alternate: each finds the other's prompt
        rows.append(await turn(engine, question, PREVIEW[name]))
        long_rows.append(await turn(engine, long_question, PREVIEW[name]))
    await engine.close()
    r = {
        field: _median(rows, field)
        for field in (
            "first_word_ms",
            "first_4_words_ms",
            "recognition_ms",
            "prefill_ms",
            "first_token_ms",
            "total_ms",
        )
    }
    r["decode_tokens_per_s"] = _median(long_rows, "decode_tokens_per_s")
    r["long_answer_tokens"] = _median(long_rows, "generated_tokens")
    r["example"] = rows[0]["answer"]
    r["clip_s"] = round(len(question) / RATE, 2)
    return r


def in_fresh_process(*args: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.embedded_latency", *args],
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def measure(runs: int, cold: bool) -> dict:
    """Each pipeline in processes of its own, one after the other: two pipelines in one
    process would share CPU thread pools, which no user's app does."""
    results: dict = {}
    for name in PIPELINES:
        r = results[name] = {"settings": PIPELINES[name]}
        if cold:
            with tempfile.TemporaryDirectory(prefix="ptt-cold-") as cache:
                r["load_cold_s"] = round(load_in_fresh_process(name, cache), 2)
        warm = [load_in_fresh_process(name) for _ in range(3)]
        r["load_warm_s"] = round(statistics.median(warm), 2)
        r.update(in_fresh_process("--only", name, "--runs", str(runs)))
    results["clip_s"] = results[next(iter(PIPELINES))].pop("clip_s")
    return results


def report(results: dict) -> str:
    names = list(PIPELINES)
    lines = [
        "| from the release of the key | " + " | ".join(names) + " |",
        "|---|" + "---|" * len(names),
    ]
    for label, field in (
        ("first answer word (ms)", "first_word_ms"),
        ("first 4 words (ms)", "first_4_words_ms"),
        ("speech recognition after the release (ms)", "recognition_ms"),
        ("prompt prefill (ms)", "prefill_ms"),
        ("whole answer (ms)", "total_ms"),
        ("answer decoding (tokens/s)", "decode_tokens_per_s"),
        ("load, warm cache (s)", "load_warm_s"),
        ("load, cold: empty cache (s)", "load_cold_s"),
    ):
        values = [results[n].get(field) for n in names]
        lines.append(f"| {label} | " + " | ".join(str(v) for v in values) + " |")
    for name in names:
        lines.append(f"\n{name}: {results[name]['example']}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--cold", action="store_true")
    parser.add_argument("--only", choices=list(PIPELINES), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.only:  # one pipeline's turns, for measure(): a JSON line on stdout
        print(json.dumps(asyncio.run(turns(args.only, args.runs))))
        return
    results = measure(args.runs, args.cold)
    print(report(results))
    out = ROOT / "benchmarks" / "results" / "embedded_latency.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"machine": machine(), **results}, indent=2))
    print(f"\nwrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
