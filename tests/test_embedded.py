"""The embedded offline default end to end: real packaged Whisper base and Qwen2.5 0.5B,
spoken questions synthesised with espeak-ng at test time."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from benchmarks.spoken import Question, speak, word_error_rate
from core import StreamingEngine, load_config
from tests.conftest import collect, thread_names
from tests.netguard import MARK

QUESTIONS = [
    Question("What is the capital of France?", ("paris",)),
    Question("How many days are there in a week?", ("seven", "7")),
    Question("Who wrote Romeo and Juliet?", ("shakespeare",)),
    Question("What is the capital of Japan?", ("tokyo",)),
]
SAMPLE_CLIP = (
    Path(__file__).resolve().parent.parent / "resources" / "sample-question.wav"
)


@pytest.fixture(scope="module")
def embedded():
    config = load_config(
        overrides={"model": {"id": "embedded"}, "memory": {"turns": 4}}
    )
    engine = StreamingEngine(config)
    progress: list[str] = []
    asyncio.run(engine.initialize(lambda message, fraction: progress.append(message)))
    yield engine, progress
    asyncio.run(engine.close())


async def test_spoken_questions_are_heard_and_answered(embedded):
    engine, _ = embedded
    heard, failures = [], []
    for i, q in enumerate(QUESTIONS):
        engine.clear_history()
        samples, rate = speak(q.question)
        items = await collect(
            engine.process_realtime_chunk_streaming(samples, i, sample_rate=rate)
        )
        final = items[-1]
        assert final["success"], final
        answer = " ".join(it["text"] for it in items if it["text"])
        heard.append(final["heard"])
        assert all(it["heard"] == final["heard"] for it in items)
        if not q.answered_by(answer):
            failures.append((q.question, final["heard"], answer))
        assert (
            final["timings"]["recognition_ms"] > 0
            and final["timings"]["prompt_tokens"] > 0
        )
    assert word_error_rate([q.question for q in QUESTIONS], heard) <= 0.10, heard
    assert not failures


async def test_transcribe_mode_streams_the_transcript(embedded):
    engine, _ = embedded
    sentence = "Please remind me to call my sister tomorrow morning."
    samples, rate = speak(sentence)
    items = await collect(
        engine.process_realtime_chunk_streaming(
            samples, "t", "transcribe", sample_rate=rate
        )
    )
    assert items[-1]["success"] and items[-1]["is_final"]
    assert all(it["word_count"] == 4 for it in items[:-1])
    transcript = " ".join(it["text"] for it in items if it["text"])
    assert word_error_rate([sentence], [transcript]) <= 0.1, transcript
    assert items[-1]["generated_tokens"] > 0


async def test_memory_carries_the_transcript_and_answer_as_text(embedded):
    engine, _ = embedded
    engine.clear_history()
    samples, rate = speak("What is the capital of France?")
    first = await engine.process_realtime_chunk(samples, 1, sample_rate=rate)
    (turn,) = engine.history
    assert turn.user_text == first["heard"] and turn.answer == first["text"]
    assert turn.user_audio is None  # text only: no audio kept for the embedded default
    samples, rate = speak(
        "And what about Germany?"
    )  # only answerable with the first turn
    second = await engine.process_realtime_chunk(samples, 2, sample_rate=rate)
    assert second["timings"]["prompt_tokens"] > first["timings"]["prompt_tokens"]
    assert "berlin" in second["text"].lower(), (second["heard"], second["text"])
    engine.clear_history()


async def test_silence_and_noise_never_reach_the_models(embedded):
    engine, _ = embedded
    silent = await engine.process_realtime_chunk(np.zeros(32000, np.float32), "quiet")
    assert silent["error"] == "no_speech"
    hum = (0.001 * np.sin(np.arange(32000) / 16000 * 2 * np.pi * 50)).astype(np.float32)
    assert (await engine.process_realtime_chunk(hum, "hum"))["error"] == "no_speech"


async def test_barge_in_stops_the_chat_model(embedded):
    engine, _ = embedded
    before = thread_names()
    samples, rate = speak("Tell me a long story about a dragon and a knight.")
    stream = engine.process_realtime_chunk_streaming(samples, "long", sample_rate=rate)
    first = await anext(stream)
    assert first["success"] and first["text"]
    await stream.aclose()
    assert thread_names() == before
    engine.clear_history()


def test_first_use_reported_its_progress(embedded):
    _, progress = embedded
    assert progress, "initialize() must report what it is doing"
    assert progress[-1] == "Warming up"


def test_ptt_ask_answers_the_sample_clip_with_no_network(embedded):
    """The default needs no network, even with HF_HUB_OFFLINE unset: every lookup or connect
    is refused and reported (tests.netguard)."""
    env = {k: v for k, v in os.environ.items() if k != "HF_HUB_OFFLINE"}
    result = subprocess.run(
        [
            sys.executable,
            *("-m", "tests.netguard", "core.cli", str(SAMPLE_CLIP), "--json"),
        ],
        check=False,
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    assert MARK not in result.stderr
    items = [json.loads(line) for line in result.stdout.splitlines()]
    assert items[-1]["is_final"] and items[-1]["success"]
    assert "france" in items[-1]["heard"].lower()
    assert "paris" in " ".join(it["text"] for it in items).lower()
