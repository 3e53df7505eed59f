"""The window as a user drives it: push-to-talk, a streamed turn, barge-in, devices, loading."""

from __future__ import annotations

import json
import threading
import time

import numpy as np
import pytest
from PySide6 import QtGui
from PySide6.QtCore import QEvent, QObject, QPoint, QRect, Qt
from PySide6.QtGui import QColor, QKeyEvent, QPalette
from PySide6.QtWidgets import QApplication

from core.audio import resample
from desktop_app.controller import badges_for
from desktop_app.main_window import MainWindow
from desktop_app.widgets.chat_view import (
    ANSWER_FILL,
    AnswerBubble,
    NoteLabel,
    UserBubble,
)
from desktop_app.widgets.look import Bubble
from testkit.conditions import at_gain
from testkit.fake_sounddevice import FakeSoundDevice
from testkit.tiny_model import TINY_SENTENCE
from testkit.voices import PIPER, speak
from tests.conftest import speech_like, step_hook

WORDS = TINY_SENTENCE.split()


def key(kind: QEvent.Type, autorepeat: bool = False) -> QKeyEvent:
    return QKeyEvent(
        kind, Qt.Key.Key_Space, Qt.KeyboardModifier.NoModifier, " ", autorepeat
    )


def hold_space(window, sound, clip: np.ndarray, repeats: int = 6) -> None:
    """Press, let the key auto-repeat while the clip arrives in pieces, release."""
    QApplication.sendEvent(window, key(QEvent.Type.KeyPress))
    for piece in np.array_split(clip, repeats):
        sound.stream.feed(piece)
        QApplication.sendEvent(window, key(QEvent.Type.KeyRelease, autorepeat=True))
        QApplication.sendEvent(window, key(QEvent.Type.KeyPress, autorepeat=True))
    QApplication.sendEvent(window, key(QEvent.Type.KeyRelease))


def bubbles(controller, kind):
    return [w for w in controller.window.chat.items() if isinstance(w, kind)]


def test_window_appears_at_once_and_loads_in_the_background(make_app, qtbot):
    controller = make_app(wait_ready=False)
    window = controller.window
    assert window.isVisible()
    assert controller.state.value == "loading"
    assert "Loading" in window.status.text() and window.progress.isVisible()
    assert "Space" in window.hint.text()
    qtbot.waitUntil(lambda: controller.state.value == "ready", timeout=30000)
    assert window.status.text().startswith("Ready") and "on cpu" in window.status.text()
    assert not window.progress.isVisible()


def test_held_key_with_auto_repeat_is_one_recording_and_one_turn(
    make_app, qtbot, sound
):
    controller = make_app()
    clip = speech_like(seconds=1.2)
    with qtbot.waitSignal(controller.turn_finished, timeout=30000) as finished:
        hold_space(controller.window, sound, clip, repeats=8)
    (user,) = bubbles(controller, UserBubble)
    assert (
        user.clip_label.text() == "Your clip · 1.2 s"
    )  # every block of the hold, one clip
    assert user.heard_label.isHidden()  # the audio model reports no transcript
    (answer,) = bubbles(controller, AnswerBubble)
    assert answer.text == TINY_SENTENCE
    assert finished.args[0].answer == TINY_SENTENCE


def test_hold_to_talk_button(make_app, qtbot, sound):
    controller = make_app()
    button = controller.window.talk_button
    with qtbot.waitSignal(controller.turn_finished, timeout=30000):
        qtbot.mousePress(button, Qt.MouseButton.LeftButton)
        assert controller.recorder.is_recording
        sound.stream.feed(speech_like())
        qtbot.mouseRelease(button, Qt.MouseButton.LeftButton)
    assert bubbles(controller, AnswerBubble)[0].text == TINY_SENTENCE


def test_a_full_turn_streams_chunks_in_order_with_badges(make_app, qtbot, sound):
    controller = make_app(chunked_response={"chunk_size_words": 2})
    seen: list[str] = []
    original = AnswerBubble.append

    def spy(self, chunk):
        seen.append(chunk)
        original(self, chunk)

    AnswerBubble.append = spy
    try:
        with qtbot.waitSignal(controller.turn_finished, timeout=30000):
            hold_space(controller.window, sound, speech_like())
    finally:
        AnswerBubble.append = original
    assert seen == [" ".join(WORDS[i : i + 2]) for i in range(0, len(WORDS), 2)]
    (answer,) = bubbles(controller, AnswerBubble)
    assert answer.text_label.text() == TINY_SENTENCE
    badges = answer.badges.text()
    assert "first chunk" in badges and "total" in badges and "tok/s" in badges
    answer.copy()
    assert QApplication.clipboard().text() == TINY_SENTENCE


class Painted(QObject):
    """Notes the bubbles that receive a paint event (as an application event filter: a
    patched ``paintEvent`` on a Qt class can outlive the test in PySide's method cache)."""

    def __init__(self) -> None:
        super().__init__()
        self.bubbles: list[Bubble] = []

    def eventFilter(self, watched, event) -> bool:
        if event.type() == QEvent.Type.Paint and isinstance(watched, Bubble):
            self.bubbles.append(watched)
        return False


def test_a_turns_bubbles_are_drawn_before_its_clip_goes_to_the_model(
    make_app, qtbot, sound, monkeypatch
):
    """Drawn while the machine is idle, not once the model holds the cores (where the same
    drawing took 3-5 times as long and froze the window)."""
    controller = make_app()
    painted = Painted()
    QApplication.instance().installEventFilter(painted)
    seen = []
    stream = controller.engine.process_realtime_chunk_streaming

    def starting(*args, **kwargs):
        user, answer = controller.window.chat.items()[-2:]
        seen.append(
            [
                (b in painted.bubbles, b.isVisible(), b.height() > 0)
                for b in (user, answer)
            ]
        )
        return stream(*args, **kwargs)

    monkeypatch.setattr(controller.engine, "process_realtime_chunk_streaming", starting)
    try:
        with qtbot.waitSignal(controller.turn_finished, timeout=30000):
            hold_space(controller.window, sound, speech_like())
    finally:
        QApplication.instance().removeEventFilter(painted)
    assert seen == [[(True, True, True), (True, True, True)]]


def test_no_speech_is_a_short_note(make_app, qtbot, sound):
    controller = make_app()
    with qtbot.waitSignal(controller.turn_finished, timeout=30000):
        hold_space(controller.window, sound, np.zeros(16000, np.float32))
    (answer,) = bubbles(controller, AnswerBubble)
    assert (
        "didn't hear any speech" in answer.note
        and answer.text_label.text() == answer.note
    )
    assert not answer.copy_button.isVisible()


def test_a_very_quiet_question_is_answered_with_a_hint_to_raise_the_gain(
    make_app, qtbot, sound
):
    controller = make_app()
    samples, rate = speak("What is the capital of France?", voice=PIPER)
    quiet = at_gain(resample(samples, rate, 16000), -35)
    for _ in range(2):
        with qtbot.waitSignal(controller.turn_finished, timeout=30000):
            hold_space(controller.window, sound, quiet)
    answers = bubbles(controller, AnswerBubble)
    assert [a.text_label.text() for a in answers] == [TINY_SENTENCE] * 2
    notes = [w.text() for w in bubbles(controller, NoteLabel)]
    assert len([n for n in notes if "microphone is very quiet" in n]) == 1  # not twice


def test_barge_in_stops_the_answer_marks_it_and_records_again(make_app, qtbot, sound):
    controller = make_app(chunked_response={"chunk_size_words": 1})
    steps = {"n": 0}

    def slow(module, args):
        steps["n"] += 1
        time.sleep(0.05)

    head = controller.engine.pipeline.model.get_output_embeddings()
    handle = head.register_forward_pre_hook(slow)
    try:
        hold_space(controller.window, sound, speech_like())
        qtbot.waitUntil(
            lambda: any(a.chunks for a in bubbles(controller, AnswerBubble)),
            timeout=30000,
        )
        with qtbot.waitSignal(controller.turn_finished, timeout=30000) as finished:
            QApplication.sendEvent(
                controller.window, key(QEvent.Type.KeyPress)
            )  # barge in
        assert controller.recorder.is_recording  # the new recording has started
        qtbot.wait(300)
        stopped_at = steps["n"]
        qtbot.wait(300)
        assert steps["n"] == stopped_at, "generation must stop after a barge-in"
    finally:
        handle.remove()
    assert finished.args[0].interrupted
    answer = bubbles(controller, AnswerBubble)[0]
    assert answer.interrupted and "[interrupted]" in answer.text_label.text()
    assert 0 < len(answer.chunks) < len(WORDS)
    QApplication.sendEvent(controller.window, key(QEvent.Type.KeyRelease))


def test_meter_follows_the_mic_from_portaudios_thread(make_app, qtbot, sound):
    controller = make_app()
    meter = controller.window.meter
    before = meter.updates
    loud = speech_like(seconds=0.5, level=0.5)
    thread = sound.stream.feed_in_thread(loud)
    thread.join()
    assert thread.ident != threading.get_ident()
    qtbot.waitUntil(lambda: meter.updates >= before + 20, timeout=5000)
    assert (
        meter.is_speech
        and meter.level_dbfs > controller.engine.config.audio.silence_threshold_dbfs
    )
    sound.stream.feed_in_thread(np.zeros(1600, np.float32)).join()
    qtbot.waitUntil(lambda: not meter.is_speech, timeout=5000)


def test_no_microphone_is_a_message_not_a_crash(make_app, qtbot):
    controller = make_app(backend=FakeSoundDevice(devices=[]))
    window = controller.window
    assert window.device_box.itemText(0) == "No microphone found"
    notes = [n.text() for n in bubbles(controller, NoteLabel)]
    assert any("No microphone found" in n and "choose it under Mic" in n for n in notes)
    QApplication.sendEvent(window, key(QEvent.Type.KeyPress))
    QApplication.sendEvent(window, key(QEvent.Type.KeyRelease))
    assert bubbles(controller, UserBubble) == []


def test_microphone_vanishing_mid_recording(make_app, qtbot, sound):
    controller = make_app()
    QApplication.sendEvent(controller.window, key(QEvent.Type.KeyPress))
    sound.stream.feed(speech_like(seconds=0.3))
    sound.stream.vanish()
    qtbot.waitUntil(lambda: bool(bubbles(controller, NoteLabel)), timeout=5000)
    assert "unplugged" in bubbles(controller, NoteLabel)[0].text()
    assert not controller.recorder.is_recording
    QApplication.sendEvent(controller.window, key(QEvent.Type.KeyRelease))
    # The next press opens the device again and works.
    with qtbot.waitSignal(controller.turn_finished, timeout=30000):
        hold_space(controller.window, sound, speech_like())
    assert bubbles(controller, AnswerBubble)[0].text == TINY_SENTENCE


def test_load_failure_shows_the_reason_and_retry_works(
    make_app, qtbot, tiny_models, tmp_path
):
    controller = make_app(wait_ready=False)
    good = controller.engine.config
    controller.engine.config = good.model_copy(
        update={
            "model": good.model.model_copy(update={"id": str(tmp_path / "missing")})
        }
    )
    controller.start_loading()  # the first load may still run: retry waits for it
    qtbot.waitUntil(lambda: controller.state.value != "loading", timeout=30000)
    if (
        controller.state.value == "ready"
    ):  # the first load won the race; load again, failing
        controller.engine._pipeline = None
        controller.start_loading()
        qtbot.waitUntil(lambda: controller.state.value != "loading", timeout=30000)
    window = controller.window
    assert controller.state.value == "failed"
    assert "does not exist" in window.status.text() and window.retry_button.isVisible()
    notes = [n.text() for n in bubbles(controller, NoteLabel)]
    assert notes and all(
        n.startswith("Could not load") and "does not exist" in n for n in notes
    ), notes  # the whole reason, in the chat
    controller.engine.config = good
    qtbot.mouseClick(window.retry_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: controller.state.value == "ready", timeout=30000)
    assert not window.retry_button.isVisible()


def test_a_clip_recorded_while_loading_is_answered_when_ready(make_app, qtbot, sound):
    controller = make_app(start=False)
    controller.recorder.open()
    controller.state = controller.state.LOADING
    hold_space(controller.window, sound, speech_like())
    assert "still loading" in bubbles(controller, NoteLabel)[0].text()
    with qtbot.waitSignal(controller.turn_finished, timeout=30000):
        controller.start_loading()
    assert bubbles(controller, AnswerBubble)[0].text == TINY_SENTENCE


def test_mode_switch_new_conversation_and_export(
    make_app, qtbot, sound, settings, tmp_path
):
    controller = make_app(memory={"turns": 4})
    window = controller.window
    with qtbot.waitSignal(controller.turn_finished, timeout=30000):
        hold_space(window, sound, speech_like())
    window.mode_box.setCurrentIndex(window.mode_box.findData("transcribe"))
    assert settings.value("ui/mode") == "transcribe"
    with qtbot.waitSignal(controller.turn_finished, timeout=30000):
        hold_space(window, sound, speech_like(seconds=2.0))
    controller.export_to(tmp_path / "chat.md")
    controller.export_to(tmp_path / "chat.json")
    markdown = (tmp_path / "chat.md").read_text()
    assert markdown.count("**Assistant:** " + TINY_SENTENCE) == 2
    assert (
        "conversation" in markdown
        and "transcribe" in markdown
        and "2.0 s clip" in markdown
    )
    data = json.loads((tmp_path / "chat.json").read_text())
    assert [t["mode"] for t in data["turns"]] == ["conversation", "transcribe"]
    assert data["turns"][0]["figures"]["tokens_per_s"] > 0
    assert len(controller.engine.history) == 1  # transcribe turns are not remembered
    qtbot.mouseClick(window.new_button, Qt.MouseButton.LeftButton)
    assert controller.engine.history == () and controller.turns == []
    qtbot.waitUntil(lambda: window.chat.items() == [], timeout=5000)


def test_play_button_plays_the_users_clip(make_app, qtbot, sound):
    controller = make_app()
    clip = speech_like()
    with qtbot.waitSignal(controller.turn_finished, timeout=30000):
        hold_space(controller.window, sound, clip)
    (user,) = bubbles(controller, UserBubble)
    qtbot.mouseClick(user.play_button, Qt.MouseButton.LeftButton)
    (played, rate) = sound.played[-1]
    assert rate == 16000 and len(played) == len(clip)


def test_push_to_talk_key_is_configurable_and_remembered(
    make_app, qtbot, sound, settings
):
    controller = make_app()
    assert controller.set_push_to_talk_key("F9")
    assert settings.value("ui/push_to_talk_key") == "F9"
    assert "F9" in controller.window.hint.text()
    space = QKeyEvent(
        QEvent.Type.KeyPress, Qt.Key.Key_Space, Qt.KeyboardModifier.NoModifier
    )
    QApplication.sendEvent(controller.window, space)
    assert not controller.recorder.is_recording  # Space is an ordinary key again
    f9 = QKeyEvent(QEvent.Type.KeyPress, Qt.Key.Key_F9, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(controller.window, f9)
    assert controller.recorder.is_recording
    f9_up = QKeyEvent(
        QEvent.Type.KeyRelease, Qt.Key.Key_F9, Qt.KeyboardModifier.NoModifier
    )
    with qtbot.waitSignal(controller.turn_finished, timeout=30000):
        QApplication.sendEvent(controller.window, f9_up)
    assert not controller.set_push_to_talk_key("Ctrl+A")
    assert "single key without modifiers" in bubbles(controller, NoteLabel)[-1].text()
    assert settings.value("ui/push_to_talk_key") == "F9"


def test_losing_the_window_while_holding_ends_the_recording(make_app, qtbot, sound):
    controller = make_app()
    QApplication.sendEvent(controller.window, key(QEvent.Type.KeyPress))
    sound.stream.feed(speech_like())
    with qtbot.waitSignal(controller.turn_finished, timeout=30000):
        QApplication.sendEvent(
            QApplication.instance(), QEvent(QEvent.Type.ApplicationDeactivate)
        )
    assert (
        not controller.ptt.held
        and bubbles(controller, AnswerBubble)[0].text == TINY_SENTENCE
    )


def test_many_barge_ins_in_a_row_then_a_clean_turn(make_app, qtbot, sound):
    from tests.conftest import thread_names

    controller = make_app(chunked_response={"chunk_size_words": 1})
    before = thread_names()
    with step_hook(controller.engine, lambda step: time.sleep(0.02)):
        for _ in range(10):
            hold_space(controller.window, sound, speech_like(), repeats=2)
            qtbot.waitUntil(lambda: controller._turn_task is not None, timeout=5000)
            qtbot.wait(60)  # somewhere in the answer: preparing, prefill or decoding
    hold_space(controller.window, sound, speech_like())
    # (turn_finished also fires for the turn this press interrupted: wait for the last one)
    qtbot.waitUntil(
        lambda: len(controller.turns) == 11 and controller._turn_task.done(),
        timeout=30000,
    )
    answers = bubbles(controller, AnswerBubble)
    assert len(answers) == 11 and answers[-1].text == TINY_SENTENCE, answers[-1].note
    assert not answers[-1].interrupted
    assert all(a.interrupted for a in answers[:-1])  # each one in its own turn's place
    for answer, turn in zip(answers[:-1], controller.turns[:-1]):
        # stopped before its first word: the note shown is the one exported
        assert turn.note == (
            None if answer.chunks else "Stopped before the answer began."
        )
    qtbot.waitUntil(lambda: thread_names() <= before, timeout=5000)


def test_50_turns_through_the_window(make_app, qtbot, sound):
    from tests.conftest import thread_names

    controller = make_app()
    with qtbot.waitSignal(controller.turn_finished, timeout=30000):
        hold_space(controller.window, sound, speech_like(), repeats=2)
    before = thread_names()
    for _ in range(49):
        with qtbot.waitSignal(controller.turn_finished, timeout=30000):
            hold_space(controller.window, sound, speech_like(), repeats=2)
    answers = bubbles(controller, AnswerBubble)
    assert len(answers) == 50 and all(a.text == TINY_SENTENCE for a in answers)
    assert len(controller.turns) == 50
    assert thread_names() == before


def test_holding_past_the_clip_limit_warns_then_answers_the_clip(
    make_app, qtbot, sound
):
    controller = make_app(audio={"max_clip_s": 3.0})
    window = controller.window
    QApplication.sendEvent(window, key(QEvent.Type.KeyPress))
    sound.stream.feed(speech_like(seconds=1.5))
    qtbot.wait(300)  # the status is refreshed a few times a second
    assert window.status.text().startswith("Recording…")
    assert not window.status.property("warning")
    sound.stream.feed(speech_like(seconds=0.6))  # 2.1 s: under a second to go
    qtbot.waitUntil(lambda: bool(window.status.property("warning")), timeout=2000)
    assert "Recording stops in 1 s (limit 3 s)" in window.status.text()
    with qtbot.waitSignal(controller.turn_finished, timeout=30000) as finished:
        sound.stream.feed(speech_like(seconds=2.0))  # the key is still held
    assert finished.args[0].answer == TINY_SENTENCE
    (user,) = bubbles(controller, UserBubble)
    assert (
        user.clip_label.text() == "Your clip · 3.0 s"
    )  # up to the limit, not rejected
    (note,) = bubbles(controller, NoteLabel)
    assert "stopped at the 3 s limit" in note.text()
    assert not window.status.property("warning")
    # Letting go afterwards sends nothing more; the next hold is a new recording.
    QApplication.sendEvent(window, key(QEvent.Type.KeyRelease))
    qtbot.wait(100)
    assert len(bubbles(controller, UserBubble)) == 1
    with qtbot.waitSignal(controller.turn_finished, timeout=30000):
        hold_space(window, sound, speech_like(seconds=1.0))
    assert len(bubbles(controller, UserBubble)) == 2


def test_a_pause_while_holding_previews_the_clip_so_far(make_app, qtbot, sound):
    """At a pause in speech (the key still held) the engine gets the clip so far, so a
    release after the last word finds the recognition done; each pause once, none in
    silence before any speech."""
    controller = make_app()
    previews = []

    async def preview(clip, sample_rate):
        previews.append((len(clip), sample_rate))

    controller.engine.preview = preview
    QApplication.sendEvent(controller.window, key(QEvent.Type.KeyPress))
    sound.stream.feed(np.zeros(8000, np.float32))  # 0.5 s of silence: nothing said yet
    sound.stream.feed(speech_like(seconds=1.0))
    sound.stream.feed(np.zeros(8000, np.float32))  # a pause
    qtbot.waitUntil(lambda: len(previews) == 1, timeout=2000)
    # The preview came after 0.2 s of the pause, with everything recorded until then
    # (the blocks reach the window as queued signals, so maybe a few more).
    length, rate = previews[0]
    assert rate == 16000 and 16000 * 1.7 <= length <= 16000 * 2.0
    # The pause goes on: no second preview.
    sound.stream.feed(np.zeros(8000, np.float32))
    sound.stream.feed(speech_like(seconds=0.5))
    sound.stream.feed(np.zeros(4000, np.float32))
    qtbot.waitUntil(lambda: len(previews) == 2, timeout=2000)
    with qtbot.waitSignal(controller.turn_finished, timeout=30000):
        QApplication.sendEvent(controller.window, key(QEvent.Type.KeyRelease))
    assert len(previews) == 2


def contrast(text: QColor, background: QColor) -> float:
    """WCAG's contrast ratio."""

    def luminance(colour: QColor) -> float:
        def linear(c: float) -> float:
            return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

        r, g, b = (linear(c) for c in (colour.redF(), colour.greenF(), colour.blueF()))
        return 0.2126 * r + 0.7152 * g + 0.0722 * b

    high, low = sorted((luminance(text), luminance(background)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def over(fill: QColor, background: QColor) -> QColor:
    a = fill.alphaF()
    return QColor.fromRgbF(
        *(
            f * a + b * (1 - a)
            for f, b in zip(fill.getRgbF()[:3], background.getRgbF()[:3])
        )
    )


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_notes_badges_and_warnings_are_readable(qtbot, theme):
    """At least WCAG AA's 4.5:1 against what they are drawn on, in a light window and a
    dark one (the notes were 1.9:1 on the light window before)."""
    app = QApplication.instance()
    before = app.palette()
    if theme == "dark":
        dark = QPalette(before)
        for role, colour in (
            (QPalette.ColorRole.Window, QColor("#202124")),
            (QPalette.ColorRole.Base, QColor("#1b1b1d")),
            (QPalette.ColorRole.WindowText, QColor("#e8eaed")),
        ):
            dark.setColor(role, colour)
        app.setPalette(dark)
    try:
        window = MainWindow(-40.0)
        qtbot.addWidget(window)
        note = window.chat.add_note("No speech was heard.")
        answer = window.chat.add_answer()
        answer.set_badges(["first chunk 640 ms"])
        window.set_status("Could not load it", warning=True)
        chat = window.chat.viewport().palette().color(QPalette.ColorRole.Window)
        text = QPalette.ColorRole.WindowText
        assert contrast(note.palette().color(text), chat) >= 4.5
        bubble = over(ANSWER_FILL, chat)
        assert contrast(answer.badges.palette().color(text), bubble) >= 4.5
        bar = window.statusBar().palette().color(QPalette.ColorRole.Window)
        assert contrast(window.status.palette().color(text), bar) >= 4.5
    finally:
        app.setPalette(before)


def test_the_window_fits_half_a_screen_whatever_its_names(qtbot):
    """Long model and device names and a long error: the window can still be 640 px wide
    (half a 1280 px screen), its top bar wraps without overlap, and the status line shows
    the start of the error with all of it in its tooltip. It needed 942 px before."""
    window = MainWindow(-40.0)
    qtbot.addWidget(window)
    window.model_box.addItem("mistralai/Voxtral-Mini-3B-2507 (download 9.4 GB)")
    window.device_box.addItem("HDA Intel PCH: ALC892 Analog (hw:0,0) with a long name")
    window.output_box.addItem("HDA Intel PCH: ALC892 Analog (hw:0,0) with a long name")
    error = "Could not load mistralai/Voxtral-Mini-3B-2507: " + "it is not there. " * 20
    window.set_status(error, warning=True)
    window.show()
    window.resize(640, 480)
    qtbot.waitUntil(lambda: window.width() == 640, timeout=2000)
    qtbot.wait(50)
    assert window.minimumSizeHint().width() <= 640
    controls = [
        window.mode_box,
        window.new_button,
        window.export_button,
        window.model_box,
        window.device_box,
        window.output_box,
        window.talk_button,
        window.stop_button,
    ]
    rects = [QRect(c.mapTo(window, QPoint(0, 0)), c.size()) for c in controls]
    for i, rect in enumerate(rects):
        assert window.rect().contains(rect), controls[i]
        assert not any(rect.intersects(other) for other in rects[i + 1 :]), controls[i]
    assert window.chat.geometry().top() >= max(r.bottom() for r in rects[:6])
    shown = window.status.shown_text()
    assert shown.endswith("…") and error.startswith(shown[:-1])
    assert window.status.toolTip() == QtGui.Qt.convertFromPlainText(error)  # escaped


def test_badges_say_when_the_clip_was_heard_while_the_user_spoke():
    final = {"ttfc_ms": 640.4, "total_ms": 900.0, "tokens_per_s": 13.24}
    heard_before = badges_for(
        {
            **final,
            "timings": {"recognition_ms": 0.0, "recognised_while_recording": True},
        }
    )
    assert heard_before == [
        "first chunk 640 ms",
        "total 900 ms",
        "13.2 tok/s",
        "heard while you spoke",
    ]
    heard_after = badges_for(
        {
            **final,
            "timings": {"recognition_ms": 212.3, "recognised_while_recording": False},
        }
    )
    assert heard_after[-1] == "recognition 212 ms"
    assert badges_for(final) == heard_before[:3]  # an audio model: no recognition step
    cut = badges_for({**final, "generated_tokens": 256, "reached_max_new_tokens": True})
    assert cut[-1] == "cut at 256 tokens (max_new_tokens)"


def test_a_misheard_question_asked_about_shows_why_not_a_speed():
    doubt = "a word in it is a guess (log-probability -1.65)"
    asked = badges_for(
        {
            "ttfc_ms": 408.2,
            "total_ms": 408.2,
            "tokens_per_s": 0.0,  # the reply was not generated
            "generated_tokens": 0,
            "timings": {
                "doubt": doubt,
                "asked": True,
                "recognised_while_recording": True,
            },
        }
    )
    assert asked == [
        "first chunk 408 ms",
        "total 408 ms",
        f"asked, not answered: {doubt}",
        "heard while you spoke",
    ]
    # answered regardless (embedded.misheard: answer), or cut before a word: a speed
    answered = badges_for({"ttfc_ms": 5, "total_ms": 9, "tokens_per_s": 0.0,
                           "timings": {"doubt": doubt}})  # fmt: skip
    assert answered[2] == "0.0 tok/s"


def test_export_with_nothing_said_yet_says_so(make_app, qtbot):
    controller = make_app(start=False)
    controller.export_dialog()  # no file dialog: nothing to save
    (note,) = bubbles(controller, NoteLabel)
    assert note.text() == "Nothing to export yet: ask something first."


def test_a_failed_switch_goes_back_to_the_model_that_answered(
    make_app, qtbot, sound, tmp_path, settings
):
    """Picking a model that cannot load does not leave the window with none: the note says
    why, the one that answered before is loaded again, and it answers."""
    controller = make_app()
    first = controller.engine.config.model.id
    broken = tmp_path / "not-a-model"
    broken.mkdir()
    controller.choose_model(str(broken))
    qtbot.waitUntil(
        lambda: any("Back to" in n.text() for n in bubbles(controller, NoteLabel)),
        timeout=60000,
    )
    qtbot.waitUntil(
        lambda: (
            controller.engine.config.model.id == first
            and controller.state.value == "ready"
        ),
        timeout=60000,
    )
    (failed,) = [
        n.text() for n in bubbles(controller, NoteLabel) if "Back to" in n.text()
    ]
    assert failed.startswith(f"Could not load {broken}")
    assert not controller.window.retry_button.isVisible()
    # the config's model, not picked in the window: still not remembered as a choice
    assert settings.value("model/id") is None
    with qtbot.waitSignal(controller.turn_finished, timeout=30000):
        hold_space(controller.window, sound, speech_like())
    assert bubbles(controller, AnswerBubble)[-1].text == TINY_SENTENCE


def test_esc_can_still_be_the_talk_key(make_app, qtbot):
    """Esc is also the Stop shortcut: chosen as the talk key, it records all the same."""
    from PySide6.QtTest import QTest

    controller = make_app()
    controller.apply_key_choice("Esc", False)
    QTest.keyPress(controller.window, Qt.Key.Key_Escape)  # through Qt's shortcut map
    assert controller.recorder.is_recording
    QTest.keyRelease(controller.window, Qt.Key.Key_Escape)
    assert not controller.recorder.is_recording
