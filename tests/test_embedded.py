"""The embedded offline default end to end: real packaged Whisper base and Qwen2.5 0.5B,
spoken questions synthesised at test time (piper's natural "joe" voice and espeak-ng), and
real human recordings (Debian's pocketsphinx-testdata).

Real models on real weights: int8 (CTranslate2) and bfloat16 (torch) kernels differ between
CPUs (AVX2 on AMD EPYC, AVX-512/AMX on Intel Xeon, and the chat model runs in float32 where a
CPU has no native bf16), so an exact transcript or answer can differ from one machine to the
next: on the Intel Xeon espeak-ng's "And what about Germany?" was heard as "and watch about
Germany." every time, on the AMD EPYC right. So no test here rests on one exact string: each
asserts a threshold over several clips, chosen from measurements, with its margin stated.

Measured on the 2-core Intel Xeon (AVX-512, AMX; chat model in bfloat16) and, on the same
machine, with AVX2-only kernels and the chat model in float32 as an AVX2 CPU runs it
(CT2_FORCE_CPU_ISA=AVX2, ATEN_CPU_CAPABILITY=avx2, ONEDNN_MAX_CPU_ISA=AVX2, dtype float32;
an approximation of the AMD machine, not the real thing): the figures are given per test.
"Varied takes" are piper syntheses with the voice's noise on (``speak_piper(varied=True)``),
every take a slightly different reading: how far a sentence is from being misheard.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from benchmarks import real_speech
from benchmarks.spoken import (
    ESPEAK,
    PIPER,
    Question,
    normalised_word_error_rate,
    speak,
)
from core import StreamingEngine, load_config
from tests.conftest import collect, thread_names
from tests.netguard import MARK

# Eight everyday questions with distinct one-word answers. Measured (both kernel sets alike):
# in the piper voice 8/8 answered right, every transcript exact (WER 0), and 8/8 again in each
# of three varied takes; in espeak-ng's voice 7/8 right, WER 0.06 ("What do bees make?" heard
# "What do these make?", Brazil's question heard "language who people speak in Brazil").
# Chosen from 30 questions (benchmarks/spoken_questions.yaml and six more) as those right in
# every piper take on both kernel sets; left out were the ones the 0.5B model gets wrong
# however well it hears them (a spider's legs, the red planet, the king of the jungle, ...).
QUESTIONS = [
    Question("What is the capital of France?", ("paris",)),
    Question("How many days are there in a week?", ("seven", "7")),
    Question("What is the capital of Japan?", ("tokyo",)),
    Question("What is the largest planet in our solar system?", ("jupiter",)),
    Question("How many hours are there in a day?", ("24", "twenty-four")),
    Question("What language do people speak in Brazil?", ("portuguese",)),
    Question("What do bees make?", ("honey",)),
    Question("What is the largest ocean on Earth?", ("pacific",)),
]

# A first question, then a follow-up only the first turn can answer, in words Whisper hears
# exactly in the piper voice. Measured, both kernel sets, the deterministic take and three
# varied takes of each (8 per pair): "What city did you just name?" after France -> "I just
# named Paris." 8/8, "Please repeat your last answer." after Japan -> "The capital of Japan is
# Tokyo." 8/8, and after the week question -> "There are 7 days in a week." 8/8; every
# follow-up heard exactly. The same follow-up asked with no memory never held the answer
# (0/24: "I just named New York.", "I apologize, but I don't have the ability to repeat your
# last answer."). Also tried: "And what about Germany?" after France (8/8 in piper, but
# "about"/"watch" is the very confusion espeak-ng's voice showed), "Say that again, please."
# after Italy (8/8), and "What did you just say?" (0/8: it repeats the question, not the
# answer; left out).
MEMORY_PAIRS = [
    (
        "What is the capital of France?",
        Question("What city did you just name?", ("paris",)),
    ),
    (
        "What is the capital of Japan?",
        Question("Please repeat your last answer.", ("tokyo",)),
    ),
    (
        "How many days are there in a week?",
        Question("Please repeat your last answer.", ("seven", "7")),
    ),
]

TRANSCRIBED_SENTENCE = "Please remind me to call my sister tomorrow morning."

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


async def ask(engine: StreamingEngine, text: str, voice: str, chunk_id) -> dict:
    samples, rate = speak(text, voice=voice)
    return await engine.process_realtime_chunk(samples, chunk_id, sample_rate=rate)


# piper: measured 8/8 right and WER 0 (and 24/24 right, WER 0 over three varied takes);
# 7 right and WER <= 0.10 (about 5 of the 55 words) leave one wrong answer and a few misheard
# words of room. espeak-ng: measured 7/8 and WER 0.06 on both kernel sets, but its formant
# voice sits close to Whisper's decision boundary (over all 30 questions 22 and 21 right, and
# single transcripts flip between kernels: "square root of the island" / "of iron"), so its
# bar is lower: 5 right and WER <= 0.25 (two more wrong answers, ~14 misheard words). Either
# still fails if recognition breaks (an empty or wrong transcript answers nothing right: WER
# 1.0) or the chat model answers garbage (0 right).
@pytest.mark.parametrize(
    ("voice", "min_right", "max_wer"), [(PIPER, 7, 0.10), (ESPEAK, 5, 0.25)]
)
async def test_spoken_questions_are_heard_and_answered(
    embedded, voice, min_right, max_wer
):
    engine, _ = embedded
    heard, rows = [], []
    for i, q in enumerate(QUESTIONS):
        engine.clear_history()
        samples, rate = speak(q.question, voice=voice)
        items = await collect(
            engine.process_realtime_chunk_streaming(samples, i, sample_rate=rate)
        )
        final = items[-1]
        assert final["success"], final
        answer = " ".join(it["text"] for it in items if it["text"])
        heard.append(final["heard"])
        assert all(it["heard"] == final["heard"] for it in items)
        rows.append((q.answered_by(answer), q.question, final["heard"], answer))
        assert (
            final["timings"]["recognition_ms"] > 0
            and final["timings"]["prompt_tokens"] > 0
        )
    engine.clear_history()
    right = sum(ok for ok, *_ in rows)
    wer = normalised_word_error_rate([q.question for q in QUESTIONS], heard)
    report = "\n".join(
        f"{'ok ' if ok else 'NO '} {q!r} heard {h!r}: {a!r}" for ok, q, h, a in rows
    )
    assert right >= min_right, f"{right}/{len(rows)} right in {voice}:\n{report}"
    assert wer <= max_wer, f"WER {wer:.3f} in {voice}:\n{report}"


async def test_transcribe_mode_streams_the_transcript(embedded):
    """Streaming in transcribe mode: 4-word chunks, then the final item. The sentence was
    heard exactly (WER 0) in the piper voice, in espeak-ng's, and in three varied piper takes
    on both kernel sets; the bound allows 2 of its 9 words wrong, since the subject here is
    the streaming (recognition itself is measured over many clips below)."""
    engine, _ = embedded
    samples, rate = speak(TRANSCRIBED_SENTENCE, voice=PIPER)
    items = await collect(
        engine.process_realtime_chunk_streaming(
            samples, "t", "transcribe", sample_rate=rate
        )
    )
    assert items[-1]["success"] and items[-1]["is_final"]
    assert len(items) >= 2  # at least one 4-word chunk streamed before the final item
    assert all(it["word_count"] == 4 for it in items[:-1])
    transcript = " ".join(it["text"] for it in items if it["text"])
    assert normalised_word_error_rate([TRANSCRIBED_SENTENCE], [transcript]) <= 0.25, (
        transcript
    )
    assert items[-1]["generated_tokens"] > 0


async def test_real_human_recordings_are_transcribed(embedded):
    """Real people, not synthesis: eleven recordings from Debian's pocketsphinx-testdata
    (five LibriVox readers' clips, "go forward ten meters", five playing-card clips), 1-7 s
    each, through the engine in transcribe mode as the app sends them.

    Measured on both kernel sets, identical: corpus WER 0.042 (4 of 95 words, numbers
    normalised), all from the narrow-band card clips ("clubs" heard "cloves" twice and
    "close" once) and the reader's stumble "a more a amiable" written "a more amiable";
    the LibriVox and go-forward clips otherwise word-perfect. The bound 0.15 (14 words)
    leaves more than three times that; Whisper base on harder real speech measured ~0.13
    (shared NOTES). A recogniser that returns nothing, or audio at a wrong rate, scores
    near 1.0; every clip must also give some words."""
    engine, _ = embedded
    try:
        clips = real_speech.load_clips()
    except real_speech.RealSpeechMissing as exc:
        pytest.fail(str(exc))
    assert len(clips) == 11 and max(c.seconds for c in clips) < 30
    transcripts = []
    for clip in clips:
        items = await collect(
            engine.process_realtime_chunk_streaming(
                clip.samples, clip.name, "transcribe", sample_rate=clip.sample_rate
            )
        )
        assert items[-1]["success"] and items[-1]["is_final"], items[-1]
        transcripts.append(" ".join(it["text"] for it in items if it["text"]))
    report = "\n".join(
        f"{c.name}: {c.transcript!r} heard {t!r}" for c, t in zip(clips, transcripts)
    )
    assert all(t.strip() for t in transcripts), report
    wer = real_speech.word_error_rate([c.transcript for c in clips], transcripts)
    assert wer <= 0.15, f"corpus WER {wer:.3f}:\n{report}"


async def test_memory_carries_the_transcript_and_answer_as_text(embedded):
    """Three question/follow-up pairs (see MEMORY_PAIRS for the measurements): each
    follow-up is asked twice, after its first question and again with the memory cleared.
    With memory at least 2 of 3 must give the first answer back (measured 3/3 every time);
    without memory at most 1 of 3 may (measured 0/3). Were memory not used, both askings
    would see the same prompt and give the same answer, so both bounds could not hold at
    once: the test fails, while one answer flipping either way leaves it passing."""
    engine, _ = embedded
    recalled, unprompted, rows = 0, 0, []
    for n, (first_question, follow_up) in enumerate(MEMORY_PAIRS):
        engine.clear_history()
        first = await ask(engine, first_question, PIPER, f"m{n}a")
        assert first["success"], first
        (turn,) = engine.history
        assert turn.user_text == first["heard"] and turn.answer == first["text"]
        assert (
            turn.user_audio is None
        )  # text only: no audio kept for the embedded default
        second = await ask(engine, follow_up.question, PIPER, f"m{n}b")
        assert second["success"], second
        # the first turn went into the prompt as text: its answer (a token or more a word)
        # and the follow-up, each with the chat template's markers
        grew = second["timings"]["prompt_tokens"] - first["timings"]["prompt_tokens"]
        assert grew > len(first["text"].split()), (first, second)
        assert [t.user_text for t in engine.history] == [
            first["heard"],
            second["heard"],
        ]
        assert engine.history[1].answer == second["text"]
        assert all(t.user_audio is None for t in engine.history)
        engine.clear_history()
        alone = await ask(engine, follow_up.question, PIPER, f"m{n}c")
        assert alone["success"], alone
        assert alone["timings"]["prompt_tokens"] < second["timings"]["prompt_tokens"]
        recalled += follow_up.answered_by(second["text"])
        unprompted += follow_up.answered_by(alone["text"])
        rows.append((first["text"], second["heard"], second["text"], alone["text"]))
    engine.clear_history()
    report = "\n".join(
        f"{a!r}; {h!r} -> with memory {b!r}, without {c!r}" for a, h, b, c in rows
    )
    assert recalled >= 2, (
        f"{recalled}/3 follow-ups recalled the first answer:\n{report}"
    )
    assert unprompted <= 1, f"{unprompted}/3 answered with no memory:\n{report}"


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
