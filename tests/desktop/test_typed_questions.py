"""Typed questions in the real window: keys typed into the field under the chat (spaces
included: the talk key types there), Enter sends, the answer streams as a spoken one's,
and the turn is kept in the history as typed."""

from __future__ import annotations

import time

from PySide6.QtCore import Qt

from desktop_app.widgets.chat_view import AnswerBubble, NoteLabel, UserBubble
from testkit.tiny_model import TINY_SENTENCE
from tests.conftest import step_hook
from tests.desktop.test_history_window import restart
from tests.desktop.test_window import bubbles

QUESTION = "What is the capital of France?"


def type_question(controller, qtbot, text: str = QUESTION) -> None:
    field = controller.window.ask_field
    controller.window.activateWindow()
    qtbot.waitUntil(controller.window.isActiveWindow, timeout=5000)
    qtbot.mouseClick(field, Qt.MouseButton.LeftButton)  # focused by a click
    assert field.hasFocus()
    qtbot.keyClicks(field, text)


def test_a_typed_question_is_answered_and_kept(make_app, qtbot):
    controller = make_app(memory={"turns": 4})
    type_question(controller, qtbot)
    assert controller.window.ask_field.text() == QUESTION  # every space was typed
    assert not controller.recorder.is_recording  # ... and none started a recording
    with qtbot.waitSignal(controller.turn_finished, timeout=30000) as finished:
        qtbot.keyClick(controller.window.ask_field, Qt.Key.Key_Return)
    turn = finished.args[0]
    assert turn.typed and turn.heard == QUESTION and turn.answer == TINY_SENTENCE
    assert controller.window.ask_field.text() == ""
    (user,) = bubbles(controller, UserBubble)
    assert user.clip_label.text() == "You typed" and user.heard_label.text() == QUESTION
    assert not user.play_button.isVisible()
    (answer,) = bubbles(controller, AnswerBubble)
    assert answer.text == TINY_SENTENCE and "first chunk" in answer.badges.text()
    assert controller.engine.history[-1].user_text == QUESTION
    controller.history.store.flush()
    again = restart(controller, make_app, qtbot, memory={"turns": 4})
    (user,) = bubbles(again, UserBubble)
    assert user.clip_label.text() == "You typed" and user.heard_label.text() == QUESTION
    assert again.engine.history[-1].user_text == QUESTION


def test_escape_leaves_the_field_and_the_talk_key_talks_again(make_app, qtbot):
    controller = make_app()
    type_question(controller, qtbot, "half a")
    qtbot.keyClick(controller.window.ask_field, Qt.Key.Key_Escape)
    assert not controller.window.ask_field.hasFocus()
    qtbot.keyPress(controller.window, Qt.Key.Key_Space)
    assert controller.recorder.is_recording
    qtbot.keyRelease(controller.window, Qt.Key.Key_Space)
    assert controller.window.ask_field.text() == "half a"  # nothing typed is lost


def test_while_the_model_loads_the_question_is_kept_with_a_note(make_app, qtbot):
    controller = make_app(start=False)
    type_question(controller, qtbot)
    qtbot.keyClick(controller.window.ask_field, Qt.Key.Key_Return)
    assert controller.window.ask_field.text() == QUESTION
    assert "still loading" in bubbles(controller, NoteLabel)[-1].text()


def test_a_typed_question_stops_the_answer_streaming(make_app, qtbot):
    controller = make_app(chunked_response={"chunk_size_words": 1})
    finished = []
    controller.turn_finished.connect(finished.append)
    with step_hook(controller.engine, lambda step: time.sleep(0.05)):
        assert controller.ask_typed("First question")
        qtbot.waitUntil(
            lambda: any(a.chunks for a in bubbles(controller, AnswerBubble)),
            timeout=10000,
        )
        assert controller.ask_typed("Second question")  # mid-answer: the first is cut
    qtbot.waitUntil(lambda: len(finished) == 2, timeout=30000)
    assert finished[0].interrupted and not finished[1].interrupted
    assert finished[1].answer == TINY_SENTENCE
    first, second = bubbles(controller, AnswerBubble)
    assert first.interrupted and second.text == TINY_SENTENCE
