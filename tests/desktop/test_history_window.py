"""The history in the real window and controller: a restart reopens the last conversation
with the assistant's memory; History… finds an old one by a word, reopens and deletes; a
damaged database is a note and the window still answers."""

from __future__ import annotations

import asyncio

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from desktop_app.widgets.chat_view import AnswerBubble, NoteLabel, UserBubble
from testkit.tiny_model import TINY_SENTENCE
from tests.conftest import speech_like
from tests.desktop.test_window import bubbles, hold_space


def ask(controller, qtbot, sound, seconds: float = 1.0) -> None:
    with qtbot.waitSignal(controller.turn_finished, timeout=30000):
        hold_space(controller.window, sound, speech_like(seconds=seconds))


def restart(controller, make_app, qtbot, **sections):
    task = asyncio.ensure_future(controller.shutdown())
    qtbot.waitUntil(task.done, timeout=30000)
    return make_app(**sections)


def test_a_restart_reopens_the_last_conversation_with_its_memory(
    make_app, qtbot, sound
):
    sections = {"history": {"keep_clips": True}, "memory": {"turns": 4}}
    controller = make_app(**sections)
    ask(controller, qtbot, sound, 1.0)
    ask(controller, qtbot, sound, 1.5)
    assert controller.history.store.flush()
    again = restart(controller, make_app, qtbot, **sections)
    users = bubbles(again, UserBubble)
    assert [u.clip_label.text() for u in users] == [
        "Your clip · 1.0 s",
        "Your clip · 1.5 s",
    ]
    answers = bubbles(again, AnswerBubble)
    assert [a.text for a in answers] == [TINY_SENTENCE, TINY_SENTENCE]
    assert "first chunk" in answers[0].badges.text()
    assert users[0].play_button.isEnabled()  # the clip was kept: it plays again
    # The audio model hears its memory: the two kept clips, then this turn's.
    assert len(again.engine.history) == 2
    assert all(e.user_audio is not None for e in again.engine.history)
    ask(again, qtbot, sound)
    again.history.store.flush()
    (only,) = again.history.store.conversations()  # the next turn joined it
    assert only.turns == 3


def test_clips_are_not_kept_by_default(make_app, qtbot, sound):
    controller = make_app()
    ask(controller, qtbot, sound)
    controller.history.store.flush()
    again = restart(controller, make_app, qtbot)
    (user,) = bubbles(again, UserBubble)
    assert not user.play_button.isEnabled()
    assert "keep_clips" in user.play_button.toolTip()


def test_history_finds_reopens_and_deletes(make_app, qtbot, sound, monkeypatch):
    controller = make_app()
    ask(controller, qtbot, sound)
    controller.new_conversation()
    ask(controller, qtbot, sound, 1.5)
    controller.new_conversation()
    assert bubbles(controller, AnswerBubble) == []
    dialog = controller.history_dialog()
    qtbot.addWidget(dialog)
    assert dialog.results.count() == 2  # the empty new one is not stored
    dialog.search.setText(TINY_SENTENCE.split()[1].upper())  # a word of the answer
    assert dialog.results.count() == 2 and "[" in dialog.results.item(0).text()
    dialog.search.setText("no such words here")
    assert (
        dialog.results.count() == 0
        and "Nothing said or answered" in dialog.empty.text()
    )
    dialog.search.clear()
    dialog.results.setCurrentRow(1)  # the older one
    dialog.open_selected()
    (user,) = bubbles(controller, UserBubble)
    assert user.clip_label.text() == "Your clip · 1.0 s"

    dialog = controller.history_dialog()
    qtbot.addWidget(dialog)
    ids = [dialog.results.item(r).data(Qt.ItemDataRole.UserRole) for r in range(2)]
    dialog.results.setCurrentRow(ids.index(controller.history.current))  # the one shown
    dialog.delete_selected()
    assert dialog.results.count() == 1
    assert bubbles(controller, UserBubble) == []  # the chat it was showing went with it
    monkeypatch.setattr(
        QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes
    )
    dialog.delete_all()
    assert dialog.results.count() == 0
    assert controller.history.store.conversations() == []


def test_a_damaged_database_is_a_note_and_the_window_still_answers(
    make_app, qtbot, sound, tmp_path
):
    broken = tmp_path / "broken.sqlite3"
    broken.write_bytes(b"\x00garbage" * 512)
    controller = make_app(history={"path": str(broken)})
    notes = [n.text() for n in bubbles(controller, NoteLabel)]
    assert any("history can't be opened" in n and "damaged" in n for n in notes), notes
    ask(controller, qtbot, sound)
    assert bubbles(controller, AnswerBubble)[-1].text == TINY_SENTENCE
    assert controller.history_dialog() is None
    assert "No history is kept" in bubbles(controller, NoteLabel)[-1].text()
    assert broken.read_bytes() == b"\x00garbage" * 512


def test_history_off_keeps_nothing(make_app, qtbot, sound, tmp_path):
    controller = make_app(history={"enabled": False})
    ask(controller, qtbot, sound)
    assert controller.history.store is None
    assert not (tmp_path / "data" / "ptt-assistant").exists()


def test_an_empty_chat_says_how_to_talk(make_app, qtbot, sound):
    controller = make_app()
    welcome = controller.window.chat.welcome
    assert welcome.isVisible()
    text = welcome.text()
    assert "Hold Space" in text and "Hold to talk" in text
    assert all(mode in text for mode in ("Conversation", "Transcribe", "Dictate"))
    controller.apply_key_choice("F9", False)
    assert "Hold F9" in welcome.text()
    controller.apply_key_choice("Space", False)
    ask(controller, qtbot, sound)
    assert not welcome.isVisible()  # the conversation takes its place
    controller.new_conversation()
    assert welcome.isVisible()
    again = restart(controller, make_app, qtbot)
    assert (
        not again.window.chat.welcome.isVisible()
    )  # reopened on the last conversation
