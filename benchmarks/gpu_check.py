"""The prepared check for an NVIDIA GPU machine: what the app finds there and how it runs.

    .venv/bin/python -m benchmarks.gpu_check                       # on the GPU machine
    .venv/bin/python -m benchmarks.gpu_check --size tiny --device cpu   # the same path, tiny
    python3 -m benchmarks.gpu_check --assets .gpu/assets.tar.gz   # a bare GPU machine

It needs no network and no package index: the models are random weights of the real shapes
(Voxtral-Mini-3B, and Qwen2.5-1.5B for the embedded chat in transformers). Whisper base and
the Qwen tokenizer come from the packaged weights where the app is installed; on a machine
without them, from the few MB that ``benchmarks.gpu_bundle`` writes, Whisper then with random
weights of base's shapes (what it hears is noise; where it runs and how fast is not). It
records:

- the machine: NVIDIA driver, torch and its CUDA, bfloat16 support, CTranslate2's CUDA device
  count and compute types, which cuBLAS and cuDNN files are mapped (after Whisper, after
  Voxtral), and the app's own note on the GPU;
- where the recogniser ends up with ``recognizer_device: auto`` (and why, if not the GPU),
  and what it hears of the sample question;
- Voxtral's size through the engine (first chunk, tokens/s, engine / raw ``generate``);
- the embedded chat in transformers on the device, through the real pipeline;
- GPU memory allocated before each model and after it is closed.

Prints one JSON object and writes benchmarks/results/gpu_check_<size>_<device>.json.
"""

from __future__ import annotations

import asyncio
import gc
import importlib.util
import json
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import torch

if importlib.util.find_spec("av") is None:
    # faster-whisper imports PyAV only to decode files, which the check never asks of it;
    # its 35 MB wheel does not fit the bundle a bare GPU machine gets (gpu_bundle.py)
    sys.modules["av"] = type(sys)("av")

from benchmarks import gpu_bundle, gpu_voxtral
from benchmarks.engine_overhead import machine
from core import StreamingEngine
from core.audio import resample, to_mono_float32
from core.cli import read_clip
from core.config import validate_config
from core.models import devices
from core.models.packaged import (
    WHISPER_BASE,
    assemble,
    default_cache_dir,
)
from core.pipelines.embedded.pipeline import EmbeddedPipeline
from core.pipelines.recognizer import Recognizer
from core.pipelines.recognizer_device import (
    cuda_device_count,
)
from core.pipelines.transcript import TextTurn
from testkit import paths

HERE = Path(__file__).resolve().parent
# Qwen2.5-1.5B-Instruct's shapes (its config.json)
QWEN_15B = {
    "hidden_size": 1536,
    "intermediate_size": 8960,
    "num_hidden_layers": 28,
    "num_attention_heads": 12,
    "num_key_value_heads": 2,
    "max_position_embeddings": 32768,
    "tie_word_embeddings": True,
}
QWEN_TINY = {
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "max_position_embeddings": 4096,
    "tie_word_embeddings": True,
}


def mapped_cuda_libraries() -> list[str]:
    """The cuBLAS and cuDNN files this process has mapped (torch's CUDA 13 and CTranslate2's
    CUDA 12 both want a ``libcudnn.so.9``: which one each got). Loads nothing itself."""
    try:
        maps = Path("/proc/self/maps").read_text()
    except OSError:
        return []
    found = {line.split()[-1] for line in maps.splitlines() if "/lib" in line}
    return sorted(p for p in found if "libcublas" in p or "libcudnn" in p)


def environment() -> dict[str, Any]:
    import ctranslate2

    try:
        ct2_cuda_types = sorted(ctranslate2.get_supported_compute_types("cuda"))
    except Exception as exc:  # noqa: BLE001 - recorded, not raised
        ct2_cuda_types = f"error: {exc}"
    cuda = torch.cuda.is_available()
    return {
        "nvidia_driver_present": devices.nvidia_driver_present(),
        "driver_version": devices.driver_version(),
        "torch": torch.__version__,
        "torch_cuda": torch.version.cuda,
        "torch_sees_gpu": cuda,
        "gpu": torch.cuda.get_device_name() if cuda else None,
        "compute_capability": torch.cuda.get_device_capability() if cuda else None,
        "app_gpu_note": devices.unusable_gpu(),
        "ctranslate2": ctranslate2.__version__,
        "ctranslate2_cuda_devices": cuda_device_count(),
        "ctranslate2_cuda_compute_types": ct2_cuda_types,
        "cuda_libraries_mapped": mapped_cuda_libraries(),
    }


def _sample_question() -> np.ndarray:
    samples, rate = read_clip(paths.SAMPLE_QUESTION)
    return resample(to_mono_float32(samples), rate, 16000)


def recognizer_check(wanted: str, folder: Path) -> tuple[Recognizer, dict[str, Any]]:
    """Whisper from ``folder`` where ``wanted`` lets it run, on a thread of its own as in
    the app."""
    with ThreadPoolExecutor(1) as pool:
        started = time.perf_counter()
        recognizer = pool.submit(
            Recognizer, folder, "auto", "en", 2, device=wanted
        ).result()
        load_s = time.perf_counter() - started
        clip = _sample_question()
        pool.submit(recognizer.transcribe, clip).result()  # first call
        started = time.perf_counter()
        heard = pool.submit(recognizer.transcribe, clip).result()
        ms = (time.perf_counter() - started) * 1000
    placement = recognizer.placement
    return recognizer, {
        "wanted": wanted,
        "device": placement.device,
        "compute_type": placement.compute_type,
        "fallback": placement.fallback,
        "load_s": round(load_s, 2),
        "heard": heard,
        "recognition_ms": round(ms, 1),
    }


def _allocated(device: str) -> int | None:
    if not device.startswith("cuda"):
        return None
    gc.collect()
    torch.cuda.synchronize()
    torch.cuda.empty_cache()
    return torch.cuda.memory_allocated()


def qwen_tokenizer(assets: Path | None):
    """The Qwen2.5 tokenizer: from the bundle's assets, else the packaged Qwen GGUF."""
    from transformers import AutoTokenizer

    if assets is not None:
        return AutoTokenizer.from_pretrained(assets / "qwen-tokenizer")
    return gpu_bundle.packaged_qwen_tokenizer()


async def embedded_chat_check(
    recognizer: Recognizer, tokenizer, size: str, device: str, tokens: int
) -> dict[str, Any]:
    """The embedded default's transformers runtime: random weights of Qwen2.5-1.5B's
    shapes, the Qwen tokenizer, the real pipeline and engine on a spoken question."""
    from transformers import Qwen2Config, Qwen2ForCausalLM

    before = _allocated(device)
    dtype = devices.resolve_dtype("auto", torch.device(device))
    shapes = QWEN_15B if size == "full" else QWEN_TINY
    config = Qwen2Config(vocab_size=len(tokenizer), **shapes)
    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        with torch.device(device):
            model = Qwen2ForCausalLM(config).eval()
    finally:
        torch.set_default_dtype(previous)
    model.generation_config.eos_token_id = None  # random weights: every token asked for
    pipeline = EmbeddedPipeline(
        recognizer, f"random {size} qwen2 on {device}", model=model, tokenizer=tokenizer
    )
    # random Whisper weights hear nonsense it is unsure of: answer it all the same
    pipeline.turn = TextTurn(ask_when_unsure=False)
    config = validate_config(
        {
            "model": {"id": "embedded", "device": device},
            "memory": {"turns": 0},
            "chunked_response": {"generation": {"max_new_tokens": tokens}},
        }
    )
    engine = StreamingEngine.from_pipeline(config, pipeline)
    clip = _sample_question()
    finals = []
    for _ in range(2):  # the first pays the kernels' first-call costs
        async for item in engine.process_realtime_chunk_streaming(clip, "gpu-chat"):
            final = item
        assert final["success"], final
        finals.append(final)
    loaded = _allocated(device)
    params = sum(p.numel() for p in model.parameters())
    await engine.close()
    pipeline.close()
    del model, pipeline, engine
    final = finals[-1]
    return {
        "dtype": str(dtype).removeprefix("torch."),
        "params_b": round(params / 1e9, 3),
        "heard": final["heard"],
        "ttfc_ms": final["ttfc_ms"],
        "tokens_per_s": final["tokens_per_s"],
        "generated_tokens": final["generated_tokens"],
        "gpu_allocated_before": before,
        "gpu_allocated_loaded": loaded,
        "gpu_allocated_after_close": _allocated(device),
    }


async def check(
    size: str, device: str, tokens: int, runs: int, assets: Path | None, work: Path
) -> dict[str, Any]:
    report: dict[str, Any] = {"size": size, "device": device, "machine": machine()}
    wanted = "cpu" if device == "cpu" else "auto"
    if assets is None:
        whisper = assemble(WHISPER_BASE, default_cache_dir())
    else:
        whisper = gpu_bundle.random_whisper(assets, size, work / "whisper")
    report["whisper_weights"] = "packaged" if assets is None else "random"
    # Whisper first, as at the app's start: nothing else has loaded CUDA libraries yet
    recognizer, report["recognizer"] = recognizer_check(wanted, whisper)
    report["environment"] = environment()
    before = _allocated(device)
    report["voxtral"] = await gpu_voxtral.measure(size, device, tokens, runs)
    report["voxtral"]["cuda_libraries_mapped"] = mapped_cuda_libraries()
    report["voxtral"]["gpu_allocated_before"] = before
    report["voxtral"]["gpu_allocated_after_close"] = _allocated(device)
    report["embedded_chat"] = await embedded_chat_check(
        recognizer, qwen_tokenizer(assets), size, device, tokens
    )
    return report


def main() -> None:
    args = gpu_voxtral.arguments(__doc__.split("\n")[0], assets=True)
    with tempfile.TemporaryDirectory() as work:
        assets = None
        if args.assets is not None:
            assets = gpu_bundle.unpack_assets(args.assets, Path(work) / "assets")
        result = asyncio.run(
            check(args.size, args.device, args.tokens, args.runs, assets, Path(work))
        )
    print(json.dumps(result))
    device = args.device.split(":")[0]
    out = args.json or HERE / "results" / f"gpu_check_{args.size}_{device}.json"
    out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
