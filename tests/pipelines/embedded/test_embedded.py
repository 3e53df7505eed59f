"""The embedded offline default end to end on its real packaged weights (Whisper base, and
Qwen2.5-Coder-1.5B in llama.cpp): spoken questions synthesised at test time (piper's natural
"joe" voice and espeak-ng's robotic one), and real human recordings (Debian's
pocketsphinx-testdata).

Real models, real numerics: int8 (CTranslate2) and quantised or bfloat16 chat kernels differ
between CPUs (AVX2 on the AMD EPYC, AVX-512/AMX on the Intel Xeon), and even one machine's
int8 results can differ from run to run, so a clip near Whisper's decision boundary is heard
one way here and another way there: espeak-ng's "And what about Germany?" was "and watch about
Germany." on the Intel machine every time, right on the AMD one. No test here rests on one
exact string: each asserts a threshold over several clips, set from measurements whose
margin its comment states, and each still fails if recognition or the chat model breaks
(checked: a recogniser that hears one fixed sentence fails the questions, the recordings
and the memory; a chat model that ignores the prompt fails the questions and the memory).

Figures from benchmarks/embedded_margins.py on the 2-core Intel Xeon, with the default's
kernels and again with AVX2-only recognition kernels (``CT2_USE_MKL=0 CT2_FORCE_CPU_ISA=AVX2
ONEDNN_MAX_CPU_ISA=AVX2``: an approximation of the AMD machine, not the real thing; llama.cpp
picks its kernels itself). "Robust" counts how many of 12 slightly altered readings of a
sentence (started 0-50 samples later, at 80% or 100% level) are heard exactly: a sentence
heard exactly in 12/12 is far from the boundary. "Varied takes" are piper readings with the
voice's noise on (``speak_piper(varied=True)``). The sentences were first chosen on the
earlier default (Qwen2.5 0.5B in transformers, Whisper on a 30 s window), which answered the
same questions and pairs right, and then re-measured on this one.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

import numpy as np
import pytest

from core import StreamingEngine, load_config
from core.audio import resample
from core.models.packaged import WHISPER_BASE, assemble, default_cache_dir
from core.pipelines.doubt import asking_reply
from core.pipelines.recognizer import Recognizer
from core.pipelines.transcript import TextTurn
from testkit import paths, real_speech
from testkit.conditions import (
    at_gain,
    click,
    hum,
    people_talking,
    pink_noise,
    with_noise,
)
from testkit.foreign import FOREIGN, in_language
from testkit.netguard import MARK
from testkit.questions import MEMORY_PAIRS, QUESTIONS, TRANSCRIBED_SENTENCE
from testkit.voices import (
    ESPEAK,
    PIPER,
    normalised_word_error_rate,
    speak,
    speak_espeak,
)
from tests.conftest import collect, thread_names

SAMPLE_CLIP = paths.SAMPLE_QUESTION


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


# piper: 8/8 right, WER 0 in every run on both kernel sets (and 32/32 right over four
# varied takes, worst WER 0.018); each question robust 12/12. At least 7 right and WER <= 0.10
# (5 of the 52 words) leave one wrong answer and a few misheard words of room. espeak-ng:
# 7/8 right, WER 0.036 on both kernel sets ("What do bees make?" heard "What do these
# make?"), but its formant voice sits near the boundary (altered readings heard exactly
# 104/144 and 101/144; "capital of Japan" heard "capital in Japan" in 4-7 of 12), so its bar
# is lower: 5 right and WER <= 0.25 (two more wrong answers, 13 misheard words; one clip
# heard twice over, as espeak-ng's "Mona Lisa" once was, adds ~10). Either fails if the
# transcript is lost or wrong (no answer right, WER ~1) or the chat model answers garbage.
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
        assert final["timings"]["recognition_ms"] > 0
        if final["timings"].get("doubt"):  # asked about: counts as not answered
            assert answer == asking_reply(final["heard"].strip())
        else:
            assert final["timings"]["prompt_tokens"] > 0
    engine.clear_history()
    right = sum(ok for ok, *_ in rows)
    wer = normalised_word_error_rate([q.question for q in QUESTIONS], heard)
    report = "\n".join(
        f"{'ok ' if ok else 'NO '} {q!r} heard {h!r}: {a!r}" for ok, q, h, a in rows
    )
    assert right >= min_right, f"{right}/{len(rows)} right in {voice}:\n{report}"
    assert wer <= max_wer, f"WER {wer:.3f} in {voice}:\n{report}"


async def test_transcribe_mode_streams_the_transcript(embedded):
    """Streaming in transcribe mode: 4-word chunks, then the final item. The sentence is
    heard exactly in every run on both kernel sets (piper, varied takes, espeak-ng alike) and
    robust 12/12 in both voices; the bound allows 2 of its 9 words wrong, since the subject
    here is the streaming (recognition itself is measured over many clips)."""
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

    Measured: corpus WER 0.032-0.053 over four runs on both kernel sets (3-5 of 95 words,
    numbers normalised), varying from run to run in the narrow-band card clips ("clubs"
    heard "cloves", "close" or "clothes", "seven of" once "7F") plus the reader's stumble
    "a more a amiable" written "a more amiable" and once "ill-disposed" as "ill-sposed"; the
    earlier 30 s-window recogniser measured 0.042. The bound 0.15 (14 words) leaves almost
    three times the worst run; Whisper base on harder real speech measured ~0.13 (shared
    NOTES). A recogniser that returns nothing, or audio at a wrong rate, scores near 1.0
    (a fixed wrong sentence: 1.09); every clip must also give some words."""
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
    With memory at least 2 of 3 must give the first answer back (measured 3/3 in every
    run); without memory at most 1 of 3 may (measured 0/3). Were memory not used, both
    askings would see the same prompt and give the same answer, so both bounds could not
    hold at once: the test fails (checked), while one answer flipping either way, or one
    first question misheard, leaves it passing. The structural checks are exact: the
    history holds the heard text and the answer as text, no audio, and the prompt grew."""
    engine, _ = embedded
    recalled, unprompted, rows = 0, 0, []
    for n, (first_question, follow_up) in enumerate(MEMORY_PAIRS):
        engine.clear_history()
        first = await ask(engine, first_question, PIPER, f"m{n}a")
        assert first["success"], first
        (turn,) = engine.history
        assert turn.user_text == first["heard"] and turn.answer == first["text"]
        # text only: no audio kept for the embedded default
        assert turn.user_audio is None
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
    for name, sound in [
        ("hum", hum(2, 16000, 0.001)),
        ("hum-dc", hum(2, 16000, 0.004, dc=0.02)),
        ("fan", pink_noise(2, 16000, -50)),
        ("click", click(2, 16000)),
    ]:
        reply = await engine.process_realtime_chunk(sound, name)
        assert reply["error"] == "no_speech", (name, reply)
        assert (
            "by Silero VAD" in reply["detail"]
        )  # below the gate, and Silero heard none


async def test_very_quiet_speech_is_heard_and_answered(embedded):
    """35 dB below the voice's level (a laptop microphone at arm's length, a low input
    gain): the level gate alone answered none of these with no_speech."""
    engine, _ = embedded
    right, rows = 0, []
    for i, q in enumerate(QUESTIONS[:4]):
        engine.clear_history()
        samples, rate = speak(q.question, voice=PIPER)
        reply = await engine.process_realtime_chunk(
            at_gain(samples, -35), f"quiet{i}", sample_rate=rate
        )
        assert reply["success"], reply
        assert reply["timings"]["quiet_input_dbfs"] < -40  # the window's hint
        right += q.answered_by(reply["text"])
        rows.append((q.question, reply["heard"], reply["text"]))
    engine.clear_history()
    assert right >= 3, rows


async def test_very_quiet_speech_is_recognised_while_the_key_is_held(embedded):
    """The preview at the pause passes the same gate and level step as the release, so a
    quiet microphone keeps the head start (without it, the first word came 600-970 ms
    after the release instead of ~250)."""
    engine, _ = embedded
    engine.clear_history()
    samples, rate = speak(QUESTIONS[0].question, voice=PIPER)
    quiet = at_gain(samples, -35)
    pause = np.r_[quiet, np.zeros(rate // 5, np.float32)]
    assert await engine.preview(pause, sample_rate=rate)
    reply = await engine.process_realtime_chunk(
        np.r_[pause, np.zeros(rate // 10, np.float32)], "quiet-held", sample_rate=rate
    )
    engine.clear_history()
    assert reply["success"] and reply["timings"]["recognised_while_recording"], reply


# Whisper base in four people's babble at SNR 5 dB, on the tuning half of the conditions
# set: "Who painted the Mona Lisa?" heard "who painted the mummolies." (least likely word
# -2.85), "What is the currency of Japan?" heard "... of humanity?" (-2.60), "Who wrote
# Romeo and Juliet?" heard "We broke the promise over Juliet." (-2.35); the threshold is
# -1.4. Two of three leave a clip of room for another CPU's kernels.
MISHEARD_IN_BABBLE = (
    "Who painted the Mona Lisa?",
    "What is the currency of Japan?",
    "Who wrote Romeo and Juliet?",
)


async def test_a_misheard_question_is_asked_about_not_answered(embedded):
    """Before, a misheard question got a confident wrong answer ("The capital of the boy is
    New York."); now the reply says what was heard and asks, and the chat model is not
    called."""
    engine, _ = embedded
    noise = people_talking(20, 16000)
    asked, rows = 0, []
    for i, question in enumerate(MISHEARD_IN_BABBLE):
        engine.clear_history()
        speech = resample(*speak(question, voice=PIPER), 16000)
        reply = await engine.process_realtime_chunk(
            with_noise(speech, noise, 5), f"babble{i}", sample_rate=16000
        )
        assert reply["success"], reply
        timings = reply["timings"]
        rows.append((question, reply["heard"], timings.get("doubt"), reply["text"]))
        if timings.get("doubt"):
            asked += 1
            assert reply["text"] == asking_reply(reply["heard"].strip())
            assert "prompt_tokens" not in timings  # nothing was asked of the chat model
            assert timings["asked"] is True  # the window's badge says so
            assert engine.history == ()  # and nothing misheard is remembered
    engine.clear_history()
    assert asked >= 2, rows


# espeak-ng's German is the only German voice here, and rough: with the language chosen
# Whisper hears "Masist wie Hauptstadt von Frankreich." and "Was machen wir denn?", unsure
# of most of it. In the conditions report the four questions, answered regardless, were
# answered in German 4/4 (the fact right 1/4: what was heard was not the question); at
# least 3 leave one of room. Asked about (the default), the reply is in German too.
async def test_german_questions_are_answered_in_german(embedded):
    engine, _ = embedded
    german = [q for q in FOREIGN if q[1] == "de"]
    assert engine.set_language("de")
    asking = engine.pipeline.turn
    rows = []
    try:
        engine.pipeline.turn = TextTurn(ask_when_unsure=False)
        for i, (voice, _code, question, _accepted) in enumerate(german):
            engine.clear_history()
            samples, rate = speak_espeak(question, 130, voice)
            reply = await engine.process_realtime_chunk(
                samples, f"de{i}", sample_rate=rate
            )
            assert reply["success"] and reply["timings"]["language"] == "de", reply
            rows.append(
                (in_language(reply["text"], "de"), reply["heard"], reply["text"])
            )
        engine.pipeline.turn = asking
        samples, rate = speak_espeak(german[0][2], 130, german[0][0])
        asked = await engine.process_realtime_chunk(samples, "de-ask", sample_rate=rate)
    finally:
        engine.pipeline.turn = asking
        engine.set_language("en")
        engine.clear_history()
    assert sum(ok for ok, *_ in rows) >= 3, rows
    if asked["timings"].get("doubt"):
        assert asked["text"] == asking_reply(asked["heard"].strip(), "de")
        assert asked["text"].startswith("Ich bin nicht sicher")
    else:
        assert in_language(asked["text"], "de"), asked


# Detection among all 99 languages takes espeak-ng's rough German for Norwegian or Thai
# (1 of the 4 heard as German); among English and German it is German for 3 of 4 (the other,
# "Wie viele Tage...", is 0.01 German to English), the closest at 1.7 to 1 over English. At
# least 2 leaves one of room; the natural English voice must stay English.
async def test_detection_among_the_users_languages_hears_german_as_german(embedded):
    engine, _ = embedded
    recognizer = engine.pipeline.recognizer
    german = [q for q in FOREIGN if q[1] == "de"]
    assert engine.set_language("auto", among=["en", "de"])
    assert recognizer.detect_among == {"en", "de"}
    try:
        heard = []
        for voice, _code, question, _accepted in german:
            samples, rate = speak_espeak(question, 130, voice)
            recognizer.transcribe(resample(samples, rate, 16000))
            heard.append(recognizer.heard_language)
        recognizer.window = "full"  # faster-whisper's own path chooses among them too
        samples, rate = speak_espeak(german[2][2], 130, german[2][0])
        recognizer.transcribe(resample(samples, rate, 16000))
        full_window = recognizer.heard_language
        recognizer.window = "clip"
        english = []
        for question in ("What is the capital of France?", "What time is it?"):
            samples, rate = speak(question, voice=PIPER)
            text = recognizer.transcribe(resample(samples, rate, 16000))
            english.append((recognizer.heard_language, text))
    finally:
        recognizer.window = "clip"
        engine.set_language("en", among=[])
    assert recognizer.detect_among == frozenset()
    assert heard.count("de") >= 2 and set(heard) <= {"en", "de"}, heard
    # "Welche Sprache...": on the full window German 0.44, English under 0.1
    assert full_window == "de"
    assert all(code == "en" for code, _ in english), english


async def test_a_language_whisper_does_not_know_is_refused_with_what_is_accepted(
    embedded,
):
    engine, _ = embedded
    with pytest.raises(ValueError, match="'klingon' is not a language Whisper knows"):
        engine.set_language("klingon")
    assert engine.language == "en"  # unchanged
    with pytest.raises(ValueError, match="'xx' is not a language Whisper knows"):
        engine.set_language("auto", among=["de", "xx"])
    assert engine.language == "en" and not engine.pipeline.recognizer.detect_among
    assert engine.set_language("auto") and engine.language is None
    assert engine.set_language("en") and engine.language == "en"


def _clock_readings(moment: datetime) -> set[str]:
    return {f"{moment:%H:%M}", f"{moment:%I:%M}".lstrip("0") + f" {moment:%p}"}


async def test_the_assistant_knows_the_local_date_and_time(embedded):
    """Without being told, it answered "Today is a Monday." on a Wednesday, "[insert current
    date]" and "It is 2023."."""
    engine, _ = embedded
    engine.clear_history()
    before = datetime.now().astimezone()
    weekday = await ask(engine, "What day of the week is it today?", PIPER, "day")
    year = await ask(engine, "What year is it?", PIPER, "year")
    clock = await ask(engine, "What time is it?", PIPER, "time")
    after = datetime.now().astimezone()
    engine.clear_history()
    assert (
        before.strftime("%A") in weekday["text"]
        or after.strftime("%A") in (weekday["text"])
    ), weekday
    assert str(after.year) in year["text"], year
    readings = _clock_readings(before) | _clock_readings(after)
    answer = clock["text"].upper().replace(".", "")
    assert any(r.upper() in answer for r in readings), (clock["text"], readings)


async def test_a_typed_question_is_answered_as_it_is_written(embedded):
    """Typed, not spoken: nothing to recognise, the words go to the chat model as they are,
    and join the memory like a heard question."""
    engine, _ = embedded
    engine.clear_history()
    items = [
        item
        async for item in engine.process_text_streaming(
            "What is the capital of France?", "typed"
        )
    ]
    final = items[-1]
    assert final["success"], final
    answer = " ".join(i["text"] for i in items if i["text"])
    assert "paris" in answer.lower(), answer
    assert final["timings"]["typed"] and "recognition_ms" not in final["timings"]
    assert engine.history[-1].user_text == "What is the capital of France?"
    engine.clear_history()


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
    is refused and reported (testkit.netguard)."""
    env = {k: v for k, v in os.environ.items() if k != "HF_HUB_OFFLINE"}
    result = subprocess.run(
        [
            sys.executable,
            *("-m", "testkit.netguard", "core.cli", str(SAMPLE_CLIP), "--json"),
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


def test_a_clip_longer_than_whisper_window_is_heard_to_the_end():
    """audio.max_clip_s may allow more than Whisper's 30 s window: such a clip is read
    window by window. The real recordings one after another make 42.7 s; the last clips
    (playing cards, from 30.5 s) were lost when the clip was cut at 30 s. Heard: WER 0.053
    in every run; 0.15 leaves 9 of its 94 words of room, while losing the cards costs 18."""
    clips = real_speech.load_clips()
    gap = np.zeros(8000, np.float32)
    audio = np.concatenate([np.r_[clip.samples, gap] for clip in clips])
    assert len(audio) / 16000 > 40
    folder = assemble(WHISPER_BASE, default_cache_dir())
    # On a thread of its own, as the app loads it: CTranslate2 sets OpenMP's thread count
    # on the thread that loads it, and torch reads that same setting on that thread.
    with ThreadPoolExecutor(1) as worker:
        heard = worker.submit(
            lambda: Recognizer(folder, "int8", "en", 1).transcribe(audio)
        ).result()
    said = " ".join(clip.transcript for clip in clips)
    assert real_speech.word_error_rate([said], [heard]) <= 0.15, heard
    assert "spades" in heard.lower() and "hearts" in heard.lower()  # the last clip
