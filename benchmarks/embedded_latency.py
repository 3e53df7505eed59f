"""Per-stage latency of the embedded default for a spoken question, on this machine.

    .venv/bin/python -m benchmarks.embedded_latency [--runs 5] [--cold]

Clip: resources/sample-question.wav (4.3 s, espeak-ng). Every figure is measured from the end
of the clip, i.e. from the moment push-to-talk is released and the engine is called. Writes
benchmarks/results/embedded_latency.json.

--cold also measures a first start on an empty cache (assemble, verify, convert: ~1 min and
~1.7 GB of temporary disk).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path

import soundfile as sf

from benchmarks.engine_overhead import machine
from core import StreamingEngine, load_config

ROOT = Path(__file__).resolve().parent.parent
CLIP = ROOT / "resources" / "sample-question.wav"


async def start(
    chunk_words: int, cache_dir: str | None = None
) -> tuple[StreamingEngine, float]:
    overrides = {
        "model": {"id": "embedded"},
        "memory": {"turns": 0},
        "chunked_response": {"chunk_size_words": chunk_words},
    }
    if cache_dir:
        overrides["embedded"] = {"cache_dir": cache_dir}
    engine = StreamingEngine(load_config(overrides=overrides))
    started = time.perf_counter()
    await engine.initialize()
    return engine, time.perf_counter() - started


async def turn(engine: StreamingEngine, samples, rate) -> dict:
    first_item_ms = None
    async for item in engine.process_realtime_chunk_streaming(
        samples, "bench", sample_rate=rate
    ):
        if item["text"] and first_item_ms is None:
            first_item_ms = item["processing_time_ms"]
        final = item
    assert final["success"], final
    t = final["timings"]
    return {
        "recognition_ms": t["recognition_ms"],
        "prefill_ms": t["first_token_ms"] - t["call_to_generate_ms"],
        "prompt_tokens": t["prompt_tokens"],
        "first_token_ms": t["first_token_ms"],
        "first_text_ms": first_item_ms,
        "total_ms": final["total_ms"],
        "tokens_per_s": final["tokens_per_s"],
        "answer": " ".join([final["heard"], "->", final["text"]]),
    }


async def measure(runs: int, cold: bool) -> dict:
    samples, rate = sf.read(CLIP, dtype="float32")
    results: dict = {"clip_s": len(samples) / rate}
    if cold:
        with tempfile.TemporaryDirectory(prefix="ptt-cold-") as cache:
            engine, results["load_cold_s"] = await start(4, cache)
            await engine.close()
    for words, key in ((1, "word"), (4, "chunk")):
        engine, load_s = await start(words)
        results.setdefault("load_warm_s", load_s)
        rows = [await turn(engine, samples, rate) for _ in range(runs)]
        await engine.close()
        for field in (
            "recognition_ms",
            "prefill_ms",
            "prompt_tokens",
            "first_token_ms",
            "total_ms",
        ):
            results.setdefault(field, statistics.median(r[field] for r in rows))
        results[f"first_{key}_ms"] = statistics.median(r["first_text_ms"] for r in rows)
        results.setdefault(
            "tokens_per_s", statistics.median(r["tokens_per_s"] for r in rows)
        )
        results.setdefault("example", rows[0]["answer"])
    return results


def report(r: dict) -> str:
    lines = [
        "| stage (from the end of the clip) | median |",
        "|---|---|",
        f"| speech recognition (whisper-base int8) | {r['recognition_ms']:.0f} ms |",
        f"| prompt prefill ({r['prompt_tokens']:.0f} tokens, to the first token) | {r['prefill_ms']:.0f} ms |",
        f"| **first answer word** (1-word chunks) | **{r['first_word_ms']:.0f} ms** |",
        f"| first 4-word chunk (default) | {r['first_chunk_ms']:.0f} ms |",
        f"| whole answer | {r['total_ms']:.0f} ms |",
        f"| answer decoding | {r['tokens_per_s']:.1f} tokens/s |",
        f"| load, warm cache (models prepared) | {r['load_warm_s']:.1f} s |",
    ]
    if "load_cold_s" in r:
        lines.append(
            f"| load, cold (assemble, verify, convert) | {r['load_cold_s']:.1f} s |"
        )
    lines.append(f"\nclip {r['clip_s']:.1f} s; e.g. {r['example']}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--cold", action="store_true")
    args = parser.parse_args()
    results = asyncio.run(measure(args.runs, args.cold))
    print(report(results))
    out = ROOT / "benchmarks" / "results" / "embedded_latency.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"machine": machine(), **results}, indent=2))
    print(f"\nwrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
