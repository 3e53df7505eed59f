"""Multi-turn memory: what each turn sees, trimming, clearing, and barge-in."""

from __future__ import annotations

import pytest

from testkit.tiny_model import TINY_SENTENCE
from tests.conftest import make_engine, speech_like


def prompt_tokens(engine, mode="conversation"):
    return int(engine._prepare_turn(speech_like(), mode).inputs["input_ids"].shape[-1])


@pytest.mark.parametrize("arch_name", ["qwen2-audio", "voxtral"])
async def test_history_is_trimmed_to_the_configured_turns(tiny_models, arch_name):
    engine = await make_engine(tiny_models[arch_name], memory={"turns": 2})
    lengths = [prompt_tokens(engine)]
    for turn in range(3):
        result = await engine.process_realtime_chunk(speech_like(), turn)
        assert result["text"] == TINY_SENTENCE  # memory never changes the answer path
        lengths.append(prompt_tokens(engine))
    assert len(engine.history) == 2
    assert all(
        h.answer == TINY_SENTENCE and h.user_audio is not None for h in engine.history
    )
    # Each remembered turn adds its clip's audio tokens and the answer; the third is trimmed.
    assert lengths[0] < lengths[1] < lengths[2] == lengths[3]
    await engine.close()


async def test_clear_history_starts_a_new_conversation(tiny_models):
    engine = await make_engine(tiny_models["qwen2-audio"], memory={"turns": 4})
    empty = prompt_tokens(engine)
    await engine.process_realtime_chunk(speech_like(), 1)
    assert prompt_tokens(engine) > empty
    engine.clear_history()
    assert engine.history == () and prompt_tokens(engine) == empty
    await engine.close()


async def test_memory_off_and_transcribe_mode_add_nothing(tiny_models):
    off = await make_engine(tiny_models["qwen2-audio"], memory={"turns": 0})
    await off.process_realtime_chunk(speech_like(), 1)
    assert off.history == ()
    on = await make_engine(tiny_models["qwen2-audio"], memory={"turns": 3})
    await on.process_realtime_chunk(speech_like(), 1, "transcribe")
    assert on.history == ()
    await on.process_realtime_chunk(speech_like(), 2)
    assert prompt_tokens(on, "transcribe") == prompt_tokens(off, "transcribe")
    await off.close()
    await on.close()


async def test_failed_turns_are_not_remembered(tiny_models):
    engine = await make_engine(tiny_models["qwen2-audio"], memory={"turns": 3})
    await engine.process_realtime_chunk(speech_like() * 0, 1)  # no_speech
    assert engine.history == ()
    await engine.close()


async def test_a_barged_in_turn_remembers_what_was_shown(tiny_models):
    engine = await make_engine(
        tiny_models["voxtral"],
        memory={"turns": 3},
        chunked_response={"chunk_size_words": 2},
    )
    stream = engine.process_realtime_chunk_streaming(speech_like(), "cut")
    first = await anext(stream)
    await stream.aclose()
    assert [h.answer for h in engine.history] == [first["text"]]
    await engine.close()
