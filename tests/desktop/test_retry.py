"""No recording lost: a turn that fails keeps its clip with *Retry*, in the real window. A
real llama.cpp server killed mid-answer, brought back on the same port, and Retry answers
the same clip; a typed question's Retry asks the same words; a kept clip's failed turn
offers Retry again after a restart."""

from __future__ import annotations

import numpy as np

from core.audio import resample
from desktop_app.widgets.chat_view import AnswerBubble, UserBubble
from testkit.llama_server import LlamaServer, smollm2
from testkit.tiny_model import TINY_SENTENCE
from testkit.voices import PIPER, speak
from tests.desktop.test_history_window import restart
from tests.desktop.test_window import bubbles, hold_space

QUESTION = "Tell me a story about a cat."


def server_sections(url: str) -> dict:
    return {
        "model": {"id": "test-server"},
        "servers": {"test-server": {"url": url, "timeout_s": 20}},
        "chunked_response": {
            "chunk_size_words": 1,
            "generation": {"max_new_tokens": 2000},
        },
        "prompts": {"conversation": "Tell a very long story. Never stop."},
    }


def spoken_question() -> np.ndarray:
    samples, rate = speak(QUESTION, voice=PIPER)
    return resample(samples, rate, 16000)


def words(answer: AnswerBubble) -> int:
    return len(answer.chunks)


def test_a_server_killed_mid_answer_then_back_and_retry_answers_the_same_clip(
    make_app, qtbot, sound, tmp_path
):
    server = LlamaServer(smollm2(), tmp_path / "first.log")
    port, again = server.port, None
    try:
        controller = make_app(**server_sections(server.url))
        finished = []
        controller.turn_finished.connect(finished.append)
        hold_space(controller.window, sound, spoken_question())
        qtbot.waitUntil(
            lambda: any(words(a) >= 3 for a in bubbles(controller, AnswerBubble)),
            timeout=60000,
        )
        server.kill()  # mid-answer
        qtbot.waitUntil(lambda: len(finished) == 1, timeout=60000)
        failed = finished[0]
        assert failed.error == "stream_interrupted", failed
        (answer,) = bubbles(controller, AnswerBubble)
        assert answer.retry_button is not None and answer.retry_button.isVisible()

        answer.retry_button.click()  # the server is still down: it fails again, kept
        qtbot.waitUntil(lambda: len(finished) == 2, timeout=60000)
        assert finished[1].error == "server_unreachable", finished[1]
        assert not answer.retry_button.isVisible()  # that one was asked again
        newest = bubbles(controller, AnswerBubble)[-1]
        assert newest.retry_button.isVisible()

        again = LlamaServer(smollm2(), tmp_path / "again.log", port=port)  # back
        newest.retry_button.click()
        qtbot.waitUntil(
            lambda: words(bubbles(controller, AnswerBubble)[-1]) >= 3, timeout=60000
        )
        controller.stop_answer()  # a long story: its first words are enough
        qtbot.waitUntil(lambda: len(finished) == 3, timeout=30000)
        users = bubbles(controller, UserBubble)
        assert (
            len({u.clip_label.text() for u in users}) == 1
        )  # the same clip, each time
        assert finished[2].heard == failed.heard and "cat" in failed.heard.lower()
        assert finished[2].error is None and finished[2].answer
    finally:
        server.kill() if server.process.poll() is None else None
        if again is not None:
            again.stop()


def test_a_typed_questions_retry_asks_the_same_words(make_app, qtbot, tmp_path):
    server = LlamaServer(smollm2(), tmp_path / "server.log")
    url = server.url
    server.stop()  # down from the start
    controller = make_app(
        **server_sections(url), history={"keep_clips": True}, memory={"turns": 4}
    )
    finished = []
    controller.turn_finished.connect(finished.append)
    assert controller.ask_typed("Say hello.")
    qtbot.waitUntil(lambda: len(finished) == 1, timeout=60000)
    assert finished[0].error == "server_unreachable"
    (answer,) = bubbles(controller, AnswerBubble)
    assert answer.retry_button.isVisible()
    controller.history.store.flush()
    # After a restart the failed turn still offers Retry (its words are kept).
    reopened = restart(controller, make_app, qtbot, **server_sections(url))
    (answer,) = bubbles(reopened, AnswerBubble)
    assert answer.retry_button is not None and answer.retry_button.isVisible()


def test_retry_after_switching_the_model_answers_with_the_new_one(
    make_app, qtbot, sound, tmp_path, tiny_models
):
    server = LlamaServer(smollm2(), tmp_path / "server.log")
    url = server.url
    server.stop()  # the server went away
    controller = make_app(**server_sections(url))
    finished = []
    controller.turn_finished.connect(finished.append)
    hold_space(controller.window, sound, spoken_question())
    qtbot.waitUntil(lambda: len(finished) == 1, timeout=60000)
    assert finished[0].error == "server_unreachable", finished[0]
    (answer,) = bubbles(controller, AnswerBubble)
    controller.choose_model(str(tiny_models["qwen2-audio"]))  # another model
    qtbot.waitUntil(
        lambda: (
            controller.state.value == "ready"
            and controller.engine.config.model.id == str(tiny_models["qwen2-audio"])
        ),
        timeout=60000,
    )
    answer.retry_button.click()
    qtbot.waitUntil(lambda: len(finished) == 2, timeout=60000)
    assert finished[1].error is None and finished[1].answer == TINY_SENTENCE
    first, again = bubbles(controller, UserBubble)
    assert first.clip_label.text() == again.clip_label.text()  # the same recording
