"""The chat model is told the local date and time, after everything the prompt cache keeps."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np

from core.pipelines.base import Exchange
from core.pipelines.clock import time_message
from core.pipelines.transcript import chat_messages
from tests.conftest import make_engine


def test_the_time_message_names_weekday_date_time_and_offset():
    now = datetime(2026, 12, 2, 9, 5, tzinfo=timezone(timedelta(hours=1)))
    assert time_message(now) == {
        "role": "system",
        "content": "It is now Wednesday, 2 December 2026, 09:05 (UTC+01:00).",
    }


def test_it_comes_just_before_the_question_so_the_cached_prefix_stays():
    history = [Exchange(user_text="Hello", user_audio=None, answer="Hi.")]
    first = chat_messages("Be brief.", history, "What time is it?")
    assert [m["role"] for m in first] == [
        "system",
        "user",
        "assistant",
        "system",
        "user",
    ]
    assert first[-2]["content"].startswith("It is now ")
    assert first[-1] == {"role": "user", "content": "What time is it?"}
    later = chat_messages("Be brief.", history, "And now?")
    assert later[:3] == first[:3]  # system prompt and memory: the same tokens, cached


def test_a_question_in_another_language_asks_for_the_answer_in_it():
    german = chat_messages("Be brief.", [], "Wie spät ist es?", "de")
    assert german[-2]["content"].endswith(
        "The question is in German: answer in German."
    )
    english = chat_messages("Be brief.", [], "What time is it?", "en")
    assert "answer in" not in english[-2]["content"]


def test_language_auto_is_detection_on_every_clip():
    from core.config import validate_config

    assert validate_config({"embedded": {"language": "auto"}}).embedded.language is None
    assert validate_config({}).embedded.language == "en"


def test_local_time_off_sends_no_clock_but_still_the_language():
    from core.config import validate_config
    from core.pipelines.transcript import TextTurn

    config = validate_config({"prompts": {"local_time": False}})
    turn = TextTurn.from_config(config)
    assert turn == TextTurn(local_time=False, ask_when_unsure=True)
    english = chat_messages("Be brief.", [], "Hi", "en", local_time=turn.local_time)
    assert [m["role"] for m in english] == ["system", "user"]
    german = chat_messages("Be brief.", [], "Hallo", "de", local_time=False)
    assert german[-2]["content"] == "The question is in German: answer in German."


def _asked(engine, mode: str) -> str:
    """The text an audio model is given for a clip in ``mode``."""
    clip = np.zeros(16000, np.float32)
    prepared = engine.pipeline.prepare(clip, mode, engine.config.prompt_for(mode), ())
    return engine.pipeline.tokenizer.decode(prepared.inputs["input_ids"][0].tolist())


async def test_an_audio_model_is_told_the_time_with_the_question(tiny_models):
    """Voxtral and Qwen2-Audio: the clock note follows the prompt in the question's turn;
    never in transcribe mode, and not when ``prompts.local_time`` is off."""
    weekday = datetime.now().astimezone().strftime("%A")
    for arch in ("qwen2-audio", "voxtral"):
        for local_time in (True, False):
            engine = await make_engine(
                tiny_models[arch], prompts={"local_time": local_time}
            )
            try:
                asked = _asked(engine, "conversation")
                told = "It is now " in asked and weekday in asked
                assert told is local_time, asked
                assert "It is now" not in _asked(engine, "transcribe")
            finally:
                await engine.close()


def test_a_reused_preview_keeps_its_clock_so_its_cached_prompt_matches():
    """The preview cached the prompt with the time of the pause; a release in the next
    minute must not change those tokens (the embedded pipeline passes the preview's)."""
    at = datetime(2026, 12, 3, 8, 59, 59, tzinfo=timezone(timedelta(0)))
    assert chat_messages("Be brief.", [], "What time is it?", now=at)[-2] == {
        "role": "system",
        "content": "It is now Thursday, 3 December 2026, 08:59 (UTC+00:00).",
    }
