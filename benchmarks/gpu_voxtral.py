"""Voxtral-Mini-3B's real architecture and size, random weights, through the engine on a GPU.

    .venv/bin/python -m benchmarks.gpu_voxtral                      # full size, CUDA, bfloat16
    .venv/bin/python -m benchmarks.gpu_voxtral --size tiny --device cpu   # the same path, tiny

The model is built from VoxtralConfig's defaults (the released model's architecture) with
random weights: no download. A 5 s clip; raw ``generate`` against the engine's stream on the
same inputs: TTFC, tokens/s and the engine's throughput ratio. Prints one JSON object and writes
benchmarks/results/gpu_voxtral_<size>_<device>.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path

import torch

from benchmarks.engine_overhead import machine
from core import StreamingEngine
from core.config import validate_config
from core.models.devices import resolve_dtype
from core.pipelines.audio_lm.families.voxtral import VoxtralBackend
from core.pipelines.audio_lm.pipeline import AudioLMPipeline
from testkit.signals import speech_like
from testkit.tiny_model import TINY_TEXT, VOXTRAL_NUM_SPECIAL, voxtral_processor

HERE = Path(__file__).resolve().parent


def build_model(size: str, device: str, dtype: torch.dtype):
    from transformers import VoxtralConfig, VoxtralForConditionalGeneration

    if size == "full":
        config = VoxtralConfig(
            audio_token_id=24
        )  # the defaults are Voxtral-Mini-3B's shapes
    else:
        config = VoxtralConfig(
            audio_config={
                "hidden_size": 32,
                "intermediate_size": 128,
                "num_hidden_layers": 1,
                "num_attention_heads": 2,
                "num_mel_bins": 128,
            },
            text_config={**TINY_TEXT, "vocab_size": 8000 + VOXTRAL_NUM_SPECIAL},
            audio_token_id=24,
        )
    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        with torch.device(device):
            model = VoxtralForConditionalGeneration(config)
    finally:
        torch.set_default_dtype(previous)
    model.generation_config.eos_token_id = (
        None  # random weights: decode every token asked for
    )
    return model.eval()


async def measure(size: str, device: str, tokens: int, runs: int) -> dict:
    dtype = resolve_dtype("auto", torch.device(device))  # as the app picks it
    started = time.perf_counter()
    model = build_model(size, device, dtype)
    vocab = model.config.text_config.vocab_size - VOXTRAL_NUM_SPECIAL
    with tempfile.TemporaryDirectory() as work:
        processor = voxtral_processor(Path(work), vocab)
    build_s = time.perf_counter() - started
    config = validate_config(
        {
            "model": {"id": f"random-weights/voxtral-{size}", "device": device},
            "memory": {"turns": 0},
            "chunked_response": {"generation": {"max_new_tokens": tokens}},
        }
    )
    pipeline = AudioLMPipeline(
        model, processor, VoxtralBackend(), config.model.id, "memory"
    )
    engine = StreamingEngine.from_pipeline(config, pipeline)
    clip = speech_like(5.0)
    inputs = engine._prepare_turn(clip, "conversation").inputs
    kwargs = engine._generate_kwargs(engine.pipeline.generator)

    def sync() -> None:
        if device.startswith("cuda"):
            torch.cuda.synchronize()

    def raw() -> float:
        sync()
        t0 = time.perf_counter()
        with torch.inference_mode():
            model.generate(**inputs, **kwargs)
        sync()
        return time.perf_counter() - t0

    async def stream() -> dict:
        final = None
        async for item in engine.process_realtime_chunk_streaming(clip, "gpu"):
            final = item
        assert final["success"], final
        return final

    raw()  # warm-up: kernels, allocator
    await stream()
    raw_s, eng_s, ttfc, first_token = [], [], [], []
    for _ in range(runs):
        raw_s.append(raw())
        final = await stream()
        t = final["timings"]
        eng_s.append((final["total_ms"] - t["call_to_generate_ms"]) / 1000)
        ttfc.append(final["ttfc_ms"])
        first_token.append(t["first_token_ms"])
    await engine.close()
    med = statistics.median
    raw_tps, eng_tps = tokens / med(raw_s), tokens / med(eng_s)
    return {
        "size": size,
        "device": device,
        "dtype": str(dtype).removeprefix("torch."),
        "params_b": round(sum(p.numel() for p in model.parameters()) / 1e9, 3),
        "build_s": round(build_s, 1),
        "prompt_tokens": int(inputs["input_ids"].shape[-1]),
        "tokens": tokens,
        "raw_tokens_per_s": round(raw_tps, 2),
        "engine_tokens_per_s": round(eng_tps, 2),
        "engine_throughput_ratio": round(eng_tps / raw_tps, 4),
        "ttfc_ms": round(med(ttfc), 1),
        "first_token_ms": round(med(first_token), 1),
        "gpu": torch.cuda.get_device_name() if device.startswith("cuda") else None,
        "machine": machine(),
    }


def arguments(description: str, assets: bool = False) -> argparse.Namespace:
    """The GPU benchmarks' command line: size, device, tokens, runs, where to write (and,
    for the GPU check, the bundle's assets)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--size", choices=("full", "tiny"), default="full")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--json", type=Path, help="where to write (default: benchmarks/results/)"
    )
    if assets:
        parser.add_argument(
            "--assets",
            type=Path,
            help="the tokenizers from benchmarks.gpu_bundle, for a machine without the app",
        )
    return parser.parse_args()


def main() -> None:
    args = arguments(__doc__.split("\n")[0])
    result = asyncio.run(measure(args.size, args.device, args.tokens, args.runs))
    print(json.dumps(result))
    out = (
        args.json
        or HERE
        / "results"
        / f"gpu_voxtral_{args.size}_{args.device.split(':')[0]}.json"
    )
    out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
