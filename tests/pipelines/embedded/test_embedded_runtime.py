"""The embedded default's runtime, on its real packaged weights: Whisper sized to the clip,
the chat model in llama.cpp in this process, and the preview that does the work while the
key is still held."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import stat
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import psutil
import pytest

from core import StreamingEngine, load_config
from core.audio import resample
from core.models.packaged import default_cache_dir
from core.speech.voice import Voice, voice_file
from core.streaming.priority import ENGINE_NICE
from testkit import paths
from testkit.voices import PIPER, speak
from tests.conftest import collect, thread_names

RATE = 16000


@pytest.fixture(scope="module")
def engine():
    config = load_config(
        overrides={
            "model": {"id": "embedded"},
            "memory": {"turns": 0},
            "chunked_response": {"chunk_size_words": 1},
        }
    )
    # The handler the Ctrl+C test checks, set here: a suite started from a background job
    # (nohup, a non-interactive `&`) inherits SIGINT as ignored, and Python then sets none.
    inherited = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        engine = StreamingEngine(config)
        asyncio.run(engine.initialize())
        yield engine, signal.default_int_handler
        asyncio.run(engine.close())
    finally:
        signal.signal(signal.SIGINT, inherited)


def spoken(text: str, silence_s: float = 0.0) -> np.ndarray:
    samples, rate = speak(text, voice=PIPER)
    return np.r_[
        resample(samples, rate, RATE), np.zeros(int(silence_s * RATE), np.float32)
    ]


def test_the_default_is_the_larger_model_in_llama_cpp(engine):
    engine, _ = engine
    assert "qwen2.5-1.5b in llama.cpp" in engine.pipeline.description
    assert "clip window" in engine.pipeline.description


def test_no_tcp_port_and_a_private_socket_folder(engine):
    """llama.cpp's server answers in-process; its listener is a Unix socket in a 0700
    folder, so nothing on the network, or another local user, can reach the model."""
    engine, _ = engine
    listening = [
        c for c in psutil.Process().net_connections(kind="inet") if c.status == "LISTEN"
    ]
    assert listening == []
    folder = Path(engine.pipeline.llama._folder)
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert [p.name for p in folder.iterdir()] == ["llama.sock"]


def test_ctrl_c_still_reaches_python_after_loading(engine):
    """llama.cpp installs its own SIGINT/SIGTERM handlers when its server starts; the engine
    puts Python's back, or Ctrl+C would stop the model's loop instead of the program."""
    _, before = engine
    assert signal.getsignal(signal.SIGINT) is before
    with pytest.raises(KeyboardInterrupt):
        signal.raise_signal(signal.SIGINT)


async def test_a_preview_with_silence_after_it_is_reused(engine):
    engine, _ = engine
    question = "What is the capital of Italy?"
    heard = await engine.preview(spoken(question, 0.2), sample_rate=RATE)
    assert "italy" in heard.lower()
    items = await collect(
        engine.process_realtime_chunk_streaming(
            spoken(question, 0.3), "p", sample_rate=RATE
        )
    )
    final = items[-1]
    assert final["success"] and final["heard"] == heard
    timings = final["timings"]
    assert timings["recognised_while_recording"] is True
    # The prompt was computed during the preview: only the last token is evaluated again.
    assert timings["cached_prompt_tokens"] >= timings["prompt_tokens"] - 2
    assert "rome" in " ".join(i["text"] for i in items).lower()


async def test_speech_after_the_preview_is_recognised_again(engine):
    engine, _ = engine
    start = spoken("What is the capital", 0.25)
    await engine.preview(start, sample_rate=RATE)
    whole = np.r_[start, spoken("of Japan?", 0.3)]
    final = (
        await collect(
            engine.process_realtime_chunk_streaming(whole, "q", sample_rate=RATE)
        )
    )[-1]
    assert final["timings"]["recognised_while_recording"] is False
    assert "japan" in final["heard"].lower()
    # Another recording entirely is never answered with the preview's words either.
    await engine.preview(spoken("What is the capital of Italy?", 0.2), sample_rate=RATE)
    other = spoken("How many days are there in a week?", 0.3)
    final = (
        await collect(
            engine.process_realtime_chunk_streaming(other, "r", sample_rate=RATE)
        )
    )[-1]
    assert final["timings"]["recognised_while_recording"] is False
    assert "week" in final["heard"].lower()


async def test_a_preview_of_silence_or_a_bad_clip_is_nothing(engine):
    engine, _ = engine
    assert await engine.preview(np.zeros(RATE, np.float32), sample_rate=RATE) is None
    assert await engine.preview(np.zeros(10, np.float32), sample_rate=RATE) is None
    assert await engine.preview("not audio", sample_rate=RATE) is None


async def test_barge_in_stops_llama_cpp_within_a_token(engine):
    engine, _ = engine
    before = thread_names()
    stream = engine.process_realtime_chunk_streaming(
        spoken("Tell me a long story about a dragon and a knight."),
        "s",
        sample_rate=RATE,
    )
    pieces = [await anext(stream) for _ in range(2)]
    assert all(p["success"] and p["text"] for p in pieces)
    await asyncio.wait_for(stream.aclose(), 2)
    # The model is free at once: the next turn answers normally.
    final = (
        await collect(
            engine.process_realtime_chunk_streaming(
                spoken("What is two plus three?"), "t", sample_rate=RATE
            )
        )
    )[-1]
    assert final["success"] and final["generated_tokens"] < 40
    assert thread_names() == before


def _threads_cpu_and_nice() -> dict[int, tuple[int, int]]:
    """Each thread of this process: (CPU ticks used so far, nice value)."""
    threads = {}
    for tid in os.listdir("/proc/self/task"):
        try:
            stat = Path(f"/proc/self/task/{tid}/stat").read_text()
        except OSError:  # ended meanwhile
            continue
        fields = stat.rpartition(")")[2].split()
        threads[int(tid)] = (int(fields[11]) + int(fields[12]), int(fields[16]))
    return threads


@pytest.mark.skipif(sys.platform != "linux", reason="nice values per thread: Linux")
async def test_the_models_threads_yield_the_cores_to_the_window(engine):
    """Recognition and decoding run at a lower priority than the caller (the window):
    llama.cpp's and CTranslate2's own threads, and numpy's products (on the engine's
    thread, not OpenBLAS's helper). On 2 cores the window otherwise waited for a core
    behind them (core/streaming/priority.py has the figures). Only the thread that hands
    the words over keeps the caller's priority: it holds the GIL for each."""
    engine, _ = engine
    # The app's own voice: one thread that does not spin on after it (the tests' usual
    # piper voice leaves a thread per core spinning, at this thread's priority).
    voice = Voice(voice_file("joe", default_cache_dir()))
    clip = np.concatenate(list(voice.synthesize("Name three colours of the rainbow.")))
    clip = resample(clip, voice.sample_rate, RATE)
    voice.close()
    before = _threads_cpu_and_nice()
    final = (
        await collect(
            engine.process_realtime_chunk_streaming(clip, "n", sample_rate=RATE)
        )
    )[-1]
    assert final["success"] and final["generated_tokens"] > 3
    after = _threads_cpu_and_nice()
    me, mine = threading.get_native_id(), before[threading.get_native_id()][1]
    python = {t.native_id: t.name for t in threading.enumerate()}
    busy = {
        tid: nice
        for tid, (ticks, nice) in after.items()
        if tid != me and ticks > before.get(tid, (0, 0))[0]
    }
    relay = {tid for tid in busy if python.get(tid, "").startswith("ptt-generate")}
    assert after[me][1] == mine and all(busy[tid] == mine for tid in relay)
    lowered = {tid: nice for tid, nice in busy.items() if tid not in relay}
    assert any(tid not in python for tid in lowered), "no model thread was busy"
    assert set(lowered.values()) == {min(19, mine + ENGINE_NICE)}, (lowered, python)


def test_a_chat_model_closed_right_after_loading_does_not_hang(tmp_path):
    """xllamacpp's server returns before its loop has started; closing it at once (a load
    that fails later, a window closed during loading) must not wait forever."""
    from core.models.packaged import SMOLLM2_135M, assemble, default_cache_dir
    from core.pipelines.embedded.llama_chat import LlamaChat

    gguf = assemble(SMOLLM2_135M, default_cache_dir()) / SMOLLM2_135M.filename
    for _ in range(3):
        chat = LlamaChat(gguf, threads=1, context_tokens=512)
        folder = Path(chat._folder)
        closing = threading.Thread(target=chat.close)
        closing.start()
        closing.join(30)
        assert not closing.is_alive(), "LlamaChat.close() hung"
        assert not folder.exists()


def test_ptt_ask_on_the_default_never_imports_torch(tmp_path):
    """The embedded default on a CPU needs neither torch nor transformers; importing them
    would add ~2 s to every start of the window and of ``ptt-ask`` on 2 cores."""
    clip = paths.SAMPLE_QUESTION
    script = (
        "import atexit, runpy, sys\n"
        "atexit.register(lambda: print('LOADED', [m for m in ('torch', 'transformers')"
        " if m in sys.modules], file=sys.stderr))\n"
        f"sys.argv = ['ptt-ask', {str(clip)!r}, '--json']\n"
        "runpy.run_module('core.cli', run_name='__main__')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        check=False,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "LOADED []" in done.stderr, done.stderr[-3000:]
    final = json.loads(done.stdout.splitlines()[-1])
    assert final["success"] and "paris" in final["text"].lower(), final


async def test_a_question_asked_the_moment_loading_ends_is_heard_and_answered():
    """Whisper loads after the engine is ready (on the background thread that warms up and
    precomputes the system prompt): a clip that comes first waits for it, and is heard."""
    config = load_config(
        overrides={"model": {"id": "embedded"}, "memory": {"turns": 0}}
    )
    engine = StreamingEngine(config)
    await engine.initialize()
    try:
        samples, rate = speak("How many days are there in a week?", voice=PIPER)
        items = await collect(
            engine.process_realtime_chunk_streaming(samples, "now", sample_rate=rate)
        )
        final = items[-1]
        assert final["success"], final
        assert "days" in (final.get("heard") or items[0].get("heard") or "").lower()
        answer = " ".join(it["text"] for it in items if it["text"]).lower()
        assert "seven" in answer or "7" in answer, answer
    finally:
        await engine.close()


def test_a_recogniser_that_fails_to_load_in_the_background_says_so(tmp_path):
    from core.pipelines.recognizer import Recognizer

    recognizer = Recognizer(tmp_path / "no-model", "int8", "en", 1, load_now=False)
    failures: list[BaseException] = []

    def load() -> None:
        try:
            recognizer.load()
        except Exception as exc:  # noqa: BLE001 - kept for the assertion below
            failures.append(exc)

    loading = threading.Thread(target=load)
    loading.start()
    with pytest.raises(RuntimeError, match="speech recogniser could not be loaded"):
        recognizer.transcribe(np.zeros(RATE, np.float32))
    loading.join()
    assert failures  # the loader itself saw the failure too
