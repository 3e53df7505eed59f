"""What conversation memory costs an audio model: prompt tokens and prefill time per turn.

    .venv/bin/python -m benchmarks.memory_prefill [--arch voxtral] [--turns 4]

Audio models remember earlier clips as audio (the model never says what it heard), so every
remembered turn adds its audio tokens to the prompt. Uses the ~100M-parameter random-weight
benchmark model; writes benchmarks/results/memory_prefill.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics

from benchmarks.engine_overhead import (
    HERE,
    machine,
    make_engine,
    model_dir,
    speech_like,
)


async def measure(arch: str, max_turns: int, runs: int) -> list[dict]:
    engine = await make_engine(model_dir(arch), tokens=8, memory_turns=max_turns)
    clip = speech_like(5.0)
    rows = []
    for remembered in range(max_turns + 1):
        prefill = []
        for _ in range(runs):
            saved = engine.history
            final = None
            async for item in engine.process_realtime_chunk_streaming(clip, "mem"):
                final = item
            t = final["timings"]
            prefill.append(t["first_token_ms"] - t["call_to_generate_ms"])
            engine._history.clear()
            engine._history.extend(saved)  # measure the same history size again
        tokens = int(
            engine._prepare_turn(clip, "conversation").inputs["input_ids"].shape[-1]
        )
        rows.append(
            {
                "remembered_turns": remembered,
                "prompt_tokens": tokens,
                "prefill_ms": statistics.median(prefill),
            }
        )
        await engine.process_realtime_chunk(clip, "grow")  # one more remembered turn
    await engine.close()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--arch", choices=("qwen2-audio", "voxtral"), default="voxtral")
    parser.add_argument("--turns", type=int, default=4)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    rows = asyncio.run(measure(args.arch, args.turns, args.runs))
    base = rows[0]
    print(
        "| remembered turns | prompt tokens | prefill | added by memory |\n|---|---|---|---|"
    )
    for r in rows:
        print(
            f"| {r['remembered_turns']} | {r['prompt_tokens']} | {r['prefill_ms']:.0f} ms |"
            f" +{r['prefill_ms'] - base['prefill_ms']:.0f} ms |"
        )
    out = HERE / "results" / "memory_prefill.json"
    out.write_text(
        json.dumps({"arch": args.arch, "machine": machine(), "rows": rows}, indent=2)
    )
    print(f"\nwrote {out.relative_to(HERE.parent)}")


if __name__ == "__main__":
    main()
