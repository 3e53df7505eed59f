"""Engine overhead against raw ``model.generate``, measured side by side in one run.

    .venv/bin/python -m benchmarks.engine_overhead [--arch voxtral] [--tokens 64] [--runs 5]

Uses a ~100M-parameter random-weight model of a supported architecture (built offline from a
config, cached under benchmarks/out/), so a decoding step costs what it does in real use.
Prints a Markdown table and writes benchmarks/results/engine_overhead.json.

- raw: ``model.generate`` on the engine's own inputs, no streamer.
- naive: TextIteratorStreamer + generate thread, consumed by a blocking loop (the usual recipe).
- engine: ``process_realtime_chunk_streaming`` end to end, timed from generate() start to the
  final item reaching the consumer.
- call -> generate(): from the engine call to ``generate()`` starting, by clip length and
  hand-off (memory / temp file, alternating), model forward excluded; median of 9 turns
  0.2 s apart.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import threading
import time
from pathlib import Path

import numpy as np
import psutil
import torch
from transformers import TextIteratorStreamer

from core import StreamingEngine
from core.config import validate_config
from testkit.signals import speech_like
from testkit.tiny_model import build

HERE = Path(__file__).resolve().parent


def model_dir(arch: str) -> Path:
    path = HERE / "out" / f"bench-{arch}"
    if not (path / "config.json").exists():
        print(f"building a ~100M-parameter {arch} model in {path} ...", flush=True)
        build(path, arch, size="bench")
    return path


async def make_engine(
    path: Path, tokens: int, handoff: str = "auto", memory_turns: int = 0
) -> StreamingEngine:
    # Memory off by default: every measured turn then has the same prompt.
    config = validate_config(
        {
            "model": {"id": str(path), "device": "cpu"},
            "audio": {"handoff": handoff},
            "chunked_response": {"generation": {"max_new_tokens": tokens}},
            "memory": {"turns": memory_turns},
        }
    )
    engine = StreamingEngine(config)
    await engine.initialize()
    # Random weights: never stop early, so every run decodes exactly `tokens` tokens.
    engine.pipeline.model.generation_config.eos_token_id = None
    return engine


def raw_generate(engine: StreamingEngine, inputs) -> tuple[float, int]:
    started = time.perf_counter()
    with torch.inference_mode():
        out = engine.pipeline.model.generate(
            **inputs, **engine._generate_kwargs(engine.pipeline.generator)
        )
    elapsed = time.perf_counter() - started
    return elapsed, out.shape[-1] - inputs["input_ids"].shape[-1]


def naive_streamer(
    engine: StreamingEngine, inputs, words: int
) -> tuple[float, float, float]:
    """The usual recipe: generate in a thread, a blocking consumer iterating the streamer.
    Returns the total time, the first word's and the time the first ``words`` words were
    complete (the text of the engine's first chunk)."""
    streamer = TextIteratorStreamer(
        engine.pipeline.tokenizer, skip_prompt=True, skip_special_tokens=True
    )
    kwargs = dict(
        inputs, streamer=streamer, **engine._generate_kwargs(engine.pipeline.generator)
    )

    def run():
        with torch.inference_mode():
            engine.pipeline.model.generate(**kwargs)

    started = time.perf_counter()
    thread = threading.Thread(target=run)
    thread.start()
    first = chunk = None
    text = ""
    for piece in streamer:
        now = time.perf_counter() - started
        if piece.strip() and first is None:
            first = now
        text += piece
        done = len(text.split()) - (0 if text[-1:].isspace() else 1)
        if chunk is None and done >= words:
            chunk = now
    thread.join()
    end = time.perf_counter() - started
    return end, first or float("nan"), chunk or end


async def engine_stream(engine: StreamingEngine, clip: np.ndarray) -> dict:
    final = None
    async for item in engine.process_realtime_chunk_streaming(clip, "bench"):
        final = item
    assert final and final["success"], final
    return final


async def throughput(path: Path, tokens: int, runs: int) -> dict:
    engine = await make_engine(path, tokens)
    clip = speech_like(5.0)
    inputs = engine._prepare_turn(clip, "conversation").inputs
    await engine_stream(engine, clip)  # warm-up: allocator, kernels, first-call costs
    raw_generate(engine, inputs)
    (
        raw_s,
        raw_tokens,
        naive_s,
        naive_first,
        naive_chunk,
        eng_s,
        eng_ttfc,
        eng_first_tok,
        eng_tokens,
    ) = ([] for _ in range(9))
    words = engine.config.chunked_response.chunk_size_words
    for _ in range(runs):  # interleaved, so drift hits all three alike
        s, n = raw_generate(engine, inputs)
        raw_s.append(s)
        raw_tokens.append(n)
        s, first, chunk = naive_streamer(engine, inputs, words)
        naive_s.append(s)
        naive_first.append(first * 1000)
        naive_chunk.append(chunk * 1000)
        final = await engine_stream(engine, clip)
        start_ms = final["timings"]["call_to_generate_ms"]
        eng_s.append((final["total_ms"] - start_ms) / 1000)
        eng_ttfc.append(final["ttfc_ms"] - start_ms)
        eng_first_tok.append(final["timings"]["first_token_ms"] - start_ms)
        eng_tokens.append(final["generated_tokens"])
    params = sum(p.numel() for p in engine.pipeline.model.parameters())
    await engine.close()
    med = statistics.median
    raw_tps = med(n / s for n, s in zip(raw_tokens, raw_s))
    eng_tps = med(n / s for n, s in zip(eng_tokens, eng_s))
    naive_tps = med(n / s for n, s in zip(raw_tokens, naive_s))
    return {
        "params_m": params,
        "tokens": med(raw_tokens),
        "raw_s": med(raw_s),
        "raw_tokens_per_s": raw_tps,
        "naive_s": med(naive_s),
        "naive_tokens_per_s": naive_tps,
        "naive_first_word_ms": med(naive_first),
        "naive_first_chunk_ms": med(naive_chunk),
        "engine_s": med(eng_s),
        "engine_tokens_per_s": eng_tps,
        "engine_throughput_ratio": eng_tps / raw_tps,
        "naive_throughput_ratio": naive_tps / raw_tps,
        "engine_first_token_ms": med(eng_first_tok),
        "engine_ttfc_ms": med(eng_ttfc),
        # The engine's first chunk against the raw stream's time to the same words.
        "ttfc_overhead_ms": med(eng_ttfc) - med(naive_chunk),
    }


async def barge_in(path: Path, runs: int) -> dict:
    """From closing a streaming answer (a barge-in) to generation stopped and its thread joined."""
    engine = await make_engine(path, tokens=200)
    clip = speech_like(5.0)
    stops, steps = [], []
    for i in range(runs):
        stream = engine.process_realtime_chunk_streaming(clip, f"barge-{i}")
        first = await anext(stream)
        assert first["success"], first
        await asyncio.sleep(0.1)  # well into decoding
        started = time.perf_counter()
        await stream.aclose()
        stops.append((time.perf_counter() - started) * 1000)
    # One decoding step, for scale: the stop should cost at most about one.
    final = await engine_stream(engine, clip)
    t = final["timings"]
    steps.append(
        (final["total_ms"] - t["first_token_ms"])
        / max(final["generated_tokens"] - 1, 1)
    )
    await engine.close()
    return {
        "barge_in_stop_ms": statistics.median(stops),
        "decode_step_ms": statistics.median(steps),
    }


async def call_to_generate(path: Path, runs: int) -> dict:
    """One engine whose hand-off alternates turn by turn, so the two are measured side by side
    on the same model and heap. (Measured one after the other, whichever went first was
    ~1.5 ms slower; with two engines in one process, the memory hand-off's large buffers
    became slow and erratic, which the app, with one engine, never sees.)"""
    engine = await make_engine(path, tokens=1)
    results: dict = {}
    for seconds in (1, 5, 10, 30):
        clip = speech_like(seconds)
        times: dict[str, list[float]] = {"memory": [], "file": []}
        for _ in range(runs + 1):  # the first round warms up
            for handoff, measured in times.items():
                engine.pipeline.handoff = handoff
                # Turns come seconds apart in use; a short pause lets the previous turn's
                # torch worker threads go idle, as they would between real turns.
                await asyncio.sleep(0.2)
                final = await engine_stream(engine, clip)
                measured.append(final["timings"]["call_to_generate_ms"])
        for handoff, measured in times.items():
            results[f"{handoff}_{seconds}s"] = statistics.median(measured[1:])
    await engine.close()
    return results


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine() -> dict:
    return {
        "cpu": _cpu_name(),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "device": "cpu",
    }


def report(arch: str, tp: dict, c2g: dict) -> str:
    rows = [
        "| measure | value |",
        "|---|---|",
        f"| model | {arch}, random weights, {tp['params_m'] / 1e6:.0f}M parameters, float32, CPU |",
        f"| tokens per answer | {tp['tokens']} |",
        f"| raw `generate` | {tp['raw_s']:.2f} s, {tp['raw_tokens_per_s']:.1f} tok/s |",
        (
            f"| naive streamer thread | {tp['naive_s']:.2f} s, {tp['naive_tokens_per_s']:.1f} tok/s"
            f" (ratio {tp['naive_throughput_ratio']:.3f}), first word {tp['naive_first_word_ms']:.0f} ms |"
        ),
        f"| engine stream | {tp['engine_s']:.2f} s, {tp['engine_tokens_per_s']:.1f} tok/s |",
        f"| **engine throughput ratio** (engine / raw) | **{tp['engine_throughput_ratio']:.3f}** |",
        (
            f"| engine first token / first chunk (from generate start) |"
            f" {tp['engine_first_token_ms']:.0f} ms / {tp['engine_ttfc_ms']:.0f} ms |"
        ),
        (
            f"| first chunk vs the naive stream's same words | {tp['ttfc_overhead_ms']:+.1f} ms"
            f" (naive: first word {tp['naive_first_word_ms']:.0f} ms, first"
            f" {tp['naive_first_chunk_ms']:.0f} ms for the chunk's words) |"
        ),
        "",
        "| clip | call → generate(), memory | call → generate(), temp file |",
        "|---|---|---|",
    ]
    for seconds in (1, 5, 10, 30):
        rows.append(
            f"| {seconds} s | {c2g[f'memory_{seconds}s']:.1f} ms | {c2g[f'file_{seconds}s']:.1f} ms |"
        )
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--arch", choices=("qwen2-audio", "voxtral"), default="voxtral")
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    path = model_dir(args.arch)
    tp = asyncio.run(throughput(path, args.tokens, args.runs))
    c2g = asyncio.run(call_to_generate(path, max(args.runs, 9)))
    stop = asyncio.run(barge_in(path, args.runs))
    table = report(args.arch, tp, c2g)
    print(table)
    print(
        f"\nbarge-in: generation stopped and joined {stop['barge_in_stop_ms']:.0f} ms after"
        f" aclose() (one decoding step: {stop['decode_step_ms']:.0f} ms)"
    )
    out = HERE / "results" / "engine_overhead.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(
        json.dumps(
            {
                "arch": args.arch,
                "machine": machine(),
                "throughput": tp,
                "call_to_generate_ms": c2g,
                **stop,
            },
            indent=2,
        )
    )
    print(f"\nwrote {out.relative_to(HERE.parent)}")


if __name__ == "__main__":
    main()
