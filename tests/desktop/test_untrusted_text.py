"""What the model says is shown, copied and exported as text, never interpreted."""

from __future__ import annotations

import json

from PySide6.QtGui import QGuiApplication, Qt  # QtGui's Qt has mightBeRichText

from desktop_app.widgets.chat_view import AnswerBubble
from tests.conftest import HOSTILE_ANSWER, speech_like
from tests.desktop.test_window import bubbles, hold_space


def test_an_html_answer_is_shown_copied_and_exported_verbatim(
    make_app, qtbot, sound, hostile_model, tmp_path
):
    controller = make_app(model_dir=hostile_model)
    with qtbot.waitSignal(controller.turn_finished, timeout=30000):
        hold_space(controller.window, sound, speech_like())
    (answer,) = bubbles(controller, AnswerBubble)
    assert answer.text == HOSTILE_ANSWER
    assert Qt.mightBeRichText(
        HOSTILE_ANSWER
    )  # left to guess, QLabel renders it as HTML
    assert answer.text_label.textFormat() == Qt.TextFormat.PlainText
    assert answer.text_label.text() == HOSTILE_ANSWER
    answer.copy_button.click()
    assert QGuiApplication.clipboard().text() == HOSTILE_ANSWER
    controller.export_to(tmp_path / "chat.md")
    assert HOSTILE_ANSWER in (tmp_path / "chat.md").read_text()
    controller.export_to(tmp_path / "chat.json")
    exported = json.loads((tmp_path / "chat.json").read_text())
    assert exported["turns"][0]["answer"] == HOSTILE_ANSWER


def test_notes_and_status_quote_errors_as_plain_text(make_app, qtbot):
    controller = make_app()
    note = controller.window.chat.add_note("Could not export: <b>/tmp/a</b>")
    assert note.textFormat() == Qt.TextFormat.PlainText
    assert controller.window.status.textFormat() == Qt.TextFormat.PlainText
