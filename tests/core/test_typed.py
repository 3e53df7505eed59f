"""A typed question through the engine, on the tiny models of each architecture: the same
items as a clip's, a text turn to the audio model (no audio tokens), remembered as text; and
empty or overlong text as a clear error item."""

from __future__ import annotations

import pytest

from testkit.model_calls import recorded_generate
from testkit.tiny_model import TINY_SENTENCE
from tests.conftest import collect, make_engine, speech_like


async def test_a_typed_question_streams_the_answer_as_a_clip_would(engine):
    items = await collect(engine.process_text_streaming("What is two plus two?", "t1"))
    final = items[-1]
    assert final["success"] and final["is_final"], final
    assert " ".join(i["text"] for i in items if i["text"]) == TINY_SENTENCE
    assert final["heard"] == "What is two plus two?"
    assert final["timings"]["typed"] is True
    assert "recognised_while_recording" not in final["timings"]


async def test_the_audio_model_gets_a_text_turn_and_remembers_it(tiny_models, arch):
    engine = await make_engine(tiny_models[arch], memory={"turns": 4})
    try:
        with recorded_generate(engine.pipeline.generator.model) as calls:
            spoken = await engine.process_realtime_chunk(speech_like(), "s1")
            typed = (await collect(engine.process_text_streaming(" And  so? ", "t1")))[
                -1
            ]
        assert spoken["success"] and typed["success"], typed
        audio_id = engine.pipeline.audio_token_id
        spoken_ids, typed_ids = (call.inputs["input_ids"] for call in calls)
        # the clip, remembered, is in the typed turn's prompt; the typed turn adds none
        assert int((spoken_ids == audio_id).sum()) > 0
        assert int((typed_ids == audio_id).sum()) == int((spoken_ids == audio_id).sum())
        assert engine.history[-1].user_text == "And so?"
        assert engine.history[-1].user_audio is None
    finally:
        await engine.close()


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("", "non-empty text"),
        ("   \n", "non-empty text"),
        (None, "non-empty text"),
        ("x" * 8001, "at most 8000 characters (this one has 8001)"),
    ],
)
async def test_empty_or_overlong_text_is_an_error_item(engine, text, says):
    (item,) = await collect(engine.process_text_streaming(text, "bad"))
    assert not item["success"] and item["error"] == "invalid_text"
    assert says in item["detail"]
    assert "8000 characters" in item["message"]
