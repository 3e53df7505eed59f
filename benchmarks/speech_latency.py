"""Spoken answers on the embedded default: key release to first sound, piper's synthesis speed,
and how fast a barge-in silences the output.

    .venv/bin/python -m benchmarks.speech_latency [--runs 5] [--nice 15]

Release to first sound: the sample question as the window sends it (the preview at the 0.2 s
pause, released 0.3 s after the last word), the answer spoken through a real output stream on
a private PulseAudio server; measured from the engine call to the moment the first samples
reach the output stream, plus the output's own latency as PortAudio reports it. Synthesis:
seconds of speech per second of work, per sentence, while nothing else runs. Barge-in: the
last loud 10 ms block recorded from the sink's monitor, after ``stop`` (an upper bound: it
includes the capture path's delay). Decoding: a longer answer's tokens/s with and without
it being read aloud, alternating turn by turn, with the voice in its own process (as the
window has it) and, for comparison, synthesising in this process's threads. A measurement
during which other processes used the machine is taken again (see machine_load.py).
Writes benchmarks/results/speech_latency.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

from benchmarks.embedded_latency import CLIP, LONG_QUESTION, RATE, start
from benchmarks.evaluate_embedded import PAUSE_S, RELEASE_S
from benchmarks.machine_load import QUIET_CORES, Load
from core.audio import resample
from core.models.packaged import default_cache_dir
from core.speech.sinks import DeviceSink
from core.speech.speaker import Speaker
from core.speech.voice import Voice, voice_file
from core.speech.voice_process import NICE, VoiceProcess
from testkit.servers import Recording, pulseaudio, sounddevice_on
from testkit.voices import PIPER, speak

ROOT = Path(__file__).resolve().parent.parent
SENTENCES = [
    "The capital of France is Paris.",
    "Try to go to bed at the same time every night, even at the weekend.",
    "There are seven days in a week.",
    "Water boils at one hundred degrees Celsius at sea level.",
]


def synthesis_rtf(voice: Voice) -> float:
    rates = []
    for sentence in SENTENCES * 2:
        started = time.perf_counter()
        audio = np.concatenate(list(voice.synthesize(sentence)))
        rates.append((len(audio) / voice.sample_rate) / (time.perf_counter() - started))
    return statistics.median(rates)


async def quietly(measure, tries: int = 6):
    """``await measure()``, again (after a pause) while other processes took more than
    QUIET_CORES of the machine during it; the result, and the foreign load it ran under."""
    for _ in range(tries):
        before = Load.reading()
        result = await measure()
        foreign = Load.foreign_cores(before)
        if foreign <= QUIET_CORES:
            break
        await asyncio.sleep(5)
    return result, round(foreign, 2)


async def decode_rate(
    engine, voice: Voice | VoiceProcess | None, sounddevice, question
) -> float:
    """Tokens/s of a longer answer, read aloud as it streams (``voice``) or not."""
    speaker = (
        Speaker(voice, DeviceSink(voice.sample_rate, backend=sounddevice))
        if voice
        else None
    )
    async for item in engine.process_realtime_chunk_streaming(
        question, "decode", sample_rate=RATE
    ):
        if speaker is not None and item["text"]:
            speaker.feed(item["text"] + " ")
    if speaker is not None:
        speaker.stop()  # what is left to say no longer competes with anything
        speaker.wait()
        speaker.sink.close()
    assert item["success"], item
    decoding_ms = item["total_ms"] - item["timings"]["first_token_ms"]
    return (item["generated_tokens"] - 1) / (decoding_ms / 1000)


async def first_sound(
    engine, voice: VoiceProcess, sounddevice, speech: np.ndarray
) -> dict:
    await engine.preview(
        np.r_[speech, np.zeros(int(PAUSE_S * RATE), np.float32)], sample_rate=RATE
    )
    await asyncio.sleep(RELEASE_S - PAUSE_S)
    clip = np.r_[speech, np.zeros(int(RELEASE_S * RATE), np.float32)]
    sink = DeviceSink(voice.sample_rate, backend=sounddevice)
    speaker = Speaker(voice, sink)
    started = time.perf_counter()
    first_word = None
    async for item in engine.process_realtime_chunk_streaming(
        clip, "speech", sample_rate=RATE
    ):
        if item["text"]:
            first_word = first_word or time.perf_counter()
            speaker.feed(item["text"] + " ")
    speaker.finish()
    await asyncio.to_thread(speaker.wait)
    result = {
        "first_word_ms": (first_word - started) * 1000,
        "first_sound_queued_ms": (speaker.first_sound_at - started) * 1000,
        "output_latency_ms": sink._stream.latency * 1000,
    }
    sink.close()
    return result


def barge_in_ms(voice: VoiceProcess, sounddevice) -> float:
    recording = Recording(sounddevice)
    speaker = Speaker(voice, DeviceSink(voice.sample_rate, backend=sounddevice))
    speaker.feed(" ".join(SENTENCES) + " ")
    speaker.finish()
    while speaker.first_sound_at is None:
        time.sleep(0.01)
    time.sleep(0.8)
    stopped_at = time.monotonic()
    speaker.stop()
    speaker.wait(5)
    time.sleep(0.4)
    speaker.sink.close()
    recording.stop()
    return (recording.last_sound_at() - stopped_at) * 1000


async def measure(runs: int, nice: int) -> dict:
    onnx = voice_file("joe", default_cache_dir())
    voice = Voice(onnx)  # synthesis in this process, for the speed and for comparison
    rtf = synthesis_rtf(voice)
    started = time.perf_counter()
    process = VoiceProcess(
        onnx, nice=nice
    )  # as the window has it, started before answers
    start_s = time.perf_counter() - started
    samples, rate = sf.read(CLIP, dtype="float32")
    speech = resample(samples, rate, RATE)
    with (
        tempfile.TemporaryDirectory() as runtime,
        pulseaudio(Path(runtime)) as env,
        sounddevice_on(env) as sounddevice,
    ):
        engine, _ = await start("now")
        rows, loads = [], {"first_sound": [], "decode": []}
        for _ in range(runs):
            row, foreign = await quietly(
                lambda: first_sound(engine, process, sounddevice, speech)
            )
            rows.append(row)
            loads["first_sound"].append(foreign)
        long_question = resample(*speak(LONG_QUESTION, voice=PIPER), RATE)
        silent, spoken, in_thread = [], [], []
        for _ in range(runs):  # side by side, alternating
            for rates, speaking in (
                (silent, None),
                (spoken, process),
                (in_thread, voice),
            ):
                rate, foreign = await quietly(
                    lambda v=speaking: decode_rate(
                        engine, v, sounddevice, long_question
                    )
                )
                rates.append(rate)
                loads["decode"].append(foreign)
        await engine.close()
        barge = [barge_in_ms(process, sounddevice) for _ in range(runs)]
        process.close()

    def median(field: str) -> float:
        return round(statistics.median(r[field] for r in rows), 1)

    return {
        "synthesis_realtime_factor": round(rtf, 1),
        "first_word_ms": median("first_word_ms"),
        "first_sound_queued_ms": median("first_sound_queued_ms"),
        "output_latency_ms": median("output_latency_ms"),
        "first_sound_ms": round(
            median("first_sound_queued_ms") + median("output_latency_ms"), 1
        ),
        "decode_tokens_per_s_silent": round(statistics.median(silent), 1),
        "decode_tokens_per_s_spoken": round(statistics.median(spoken), 1),
        "decode_ratio_spoken_to_silent": round(
            statistics.median(spoken) / statistics.median(silent), 3
        ),
        "decode_tokens_per_s_spoken_in_thread": round(statistics.median(in_thread), 1),
        "decode_ratio_spoken_in_thread_to_silent": round(
            statistics.median(in_thread) / statistics.median(silent), 3
        ),
        "decode_tokens_per_s_each_run": {
            "silent": [round(r, 1) for r in silent],
            "voice_process": [round(r, 1) for r in spoken],
            "in_thread": [round(r, 1) for r in in_thread],
        },
        "voice_process_start_s": round(start_s, 2),
        # cores' worth of CPU other processes took during each measurement kept
        "foreign_load_cores": loads,
        "voice_process_nice": nice,
        "barge_in_silence_ms_max": round(max(barge), 1),
        "barge_in_silence_ms_median": round(statistics.median(barge), 1),
        "runs": runs,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument(
        "--nice", type=int, default=NICE, help="the voice process's niceness"
    )
    args = parser.parse_args()
    result = asyncio.run(measure(args.runs, args.nice))
    for key, value in result.items():
        print(f"{key}: {value}")
    out = ROOT / "benchmarks" / "results" / "speech_latency.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
