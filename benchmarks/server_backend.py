"""The server backend against the server's own raw stream, side by side in one run.

    .venv/bin/python -m benchmarks.server_backend [--rounds N] [--tokens N]

A real llama.cpp server (the ``xllamacpp`` wheel, packaged SmolLM2-135M on one thread, fast
enough that the client's own overhead shows) answers the same request two ways, alternated
round by round: straight through the ``openai`` client (raw), and through the engine (the
sample question, recognised here, text in). Both get ``ignore_eos`` so every answer has the
same length, and both hit the same warm prompt cache.

Compared: request -> first token, request -> first 4 words (the engine's first chunk), and
decoding throughput; plus the engine's first chunk after the call (recognition included).
Writes benchmarks/results/server_backend.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path

import openai
import soundfile as sf

from benchmarks.engine_overhead import machine
from core import StreamingEngine, load_config
from core.chunking import WordChunker
from testkit.llama_server import LlamaServer, smollm2

ROOT = Path(__file__).resolve().parent.parent
CLIP = ROOT / "resources" / "sample-question.wav"
WORDS = 4


def raw_turn(client: openai.OpenAI, messages: list[dict], tokens: int) -> dict:
    started = time.perf_counter()
    first = four = None
    pieces = 0
    chunker = WordChunker(
        WORDS
    )  # the first chunk completes exactly as the engine's does
    stream = client.chat.completions.create(
        model="any",
        messages=messages,
        stream=True,
        max_tokens=tokens,
        temperature=0.0,
        extra_body={"ignore_eos": True},
    )
    for chunk in stream:
        for choice in chunk.choices:
            if choice.delta and choice.delta.content:
                pieces += 1
                now = time.perf_counter()
                first = first or now
                if chunker.feed(choice.delta.content) and four is None:
                    four = now
    end = time.perf_counter()
    return {
        "first_token_ms": (first - started) * 1000,
        "first_4_words_ms": ((four or end) - started) * 1000,
        "tokens_per_s": pieces / (end - first),
    }


async def engine_turn(engine: StreamingEngine, samples, rate) -> dict:
    final = await engine.process_realtime_chunk(samples, "bench", sample_rate=rate)
    assert final["success"], final
    t = final["timings"]
    start = t["call_to_generate_ms"]
    return {
        "heard": final["heard"],
        "first_token_ms": t["first_token_ms"] - start,
        "first_4_words_ms": final["ttfc_ms"] - start,
        "first_chunk_after_call_ms": final["ttfc_ms"],
        "recognition_ms": t["recognition_ms"],
        "tokens_per_s": final["generated_tokens"]
        / ((final["total_ms"] - t["first_token_ms"]) / 1000),
    }


async def measure(rounds: int, tokens: int) -> dict:
    samples, rate = sf.read(CLIP, dtype="float32")
    with tempfile.TemporaryDirectory() as folder:
        server = LlamaServer(smollm2(), Path(folder) / "server.log")
        try:
            config = load_config(
                overrides={
                    "model": {"id": "bench"},
                    "servers": {
                        "bench": {"url": server.url, "options": {"ignore_eos": True}}
                    },
                    "memory": {"turns": 0},
                    "chunked_response": {
                        "chunk_size_words": WORDS,
                        "generation": {"max_new_tokens": tokens},
                    },
                }
            )
            engine = StreamingEngine(config)
            await engine.initialize()
            heard = (await engine_turn(engine, samples, rate))["heard"]  # warm-up
            messages = [
                {"role": "system", "content": config.prompts.conversation},
                {"role": "user", "content": heard},
            ]
            client = openai.OpenAI(base_url=server.url, api_key="none", max_retries=0)
            raw_turn(client, messages, tokens)  # warm-up
            raw, ours = [], []
            for _ in range(rounds):
                raw.append(raw_turn(client, messages, tokens))
                ours.append(await engine_turn(engine, samples, rate))
            client.close()
            await engine.close()
        finally:
            server.stop()

    def median(rows: list[dict], key: str) -> float:
        return round(statistics.median(r[key] for r in rows), 2)

    result = {
        "server": "llama.cpp (xllamacpp 2026.10.11549), SmolLM2-135M Q4_1, 1 thread",
        "rounds": rounds,
        "tokens": tokens,
        "raw": {k: median(raw, k) for k in raw[0]},
        "engine": {k: median(ours, k) for k in ours[0] if k != "heard"},
        "throughput_ratio": round(
            statistics.median(
                o["tokens_per_s"] / r["tokens_per_s"] for o, r in zip(ours, raw)
            ),
            3,
        ),
        "machine": machine(),
    }
    result["first_token_overhead_ms"] = round(
        result["engine"]["first_token_ms"] - result["raw"]["first_token_ms"], 2
    )
    result["first_4_words_overhead_ms"] = round(
        result["engine"]["first_4_words_ms"] - result["raw"]["first_4_words_ms"], 2
    )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--tokens", type=int, default=128)
    parser.add_argument(
        "--out",
        type=Path,
        default=ROOT / "benchmarks" / "results" / "server_backend.json",
    )
    args = parser.parse_args()
    result = asyncio.run(measure(args.rounds, args.tokens))
    print(
        f"{'':34}{'raw stream':>12}{'engine':>10}\n"
        f"{'request -> first token (ms)':34}{result['raw']['first_token_ms']:>12}"
        f"{result['engine']['first_token_ms']:>10}\n"
        f"{'request -> first 4 words (ms)':34}{result['raw']['first_4_words_ms']:>12}"
        f"{result['engine']['first_4_words_ms']:>10}\n"
        f"{'decoding (tokens/s)':34}{result['raw']['tokens_per_s']:>12}"
        f"{result['engine']['tokens_per_s']:>10}\n"
        f"throughput engine/raw: {result['throughput_ratio']}; first chunk after the "
        f"call (recognition included): {result['engine']['first_chunk_after_call_ms']} ms"
    )
    args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
