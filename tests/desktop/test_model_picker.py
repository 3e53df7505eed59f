"""The model picker in the real window: what it lists, switching between the embedded
default and a real llama.cpp server without a restart, and the choice remembered."""

from __future__ import annotations

import asyncio
import gc
import itertools
import weakref

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QComboBox

from core.audio import resample
from core.models.presets import PRESETS
from desktop_app.app import build, remembered_model
from desktop_app.language_picker import LanguagePicker
from desktop_app.widgets.chat_view import AnswerBubble, NoteLabel, UserBubble
from testkit.llama_server import LlamaServer, free_port, smollm2
from testkit.voices import speak
from tests.conftest import make_config
from tests.desktop.test_window import bubbles, hold_space

QUESTION = "What is the capital of Japan?"


@pytest.fixture(scope="module")
def llama(tmp_path_factory):
    running = LlamaServer(smollm2(), tmp_path_factory.mktemp("picker") / "server.log")
    yield running
    running.stop()


@pytest.fixture(scope="module")
def question():
    samples, rate = speak(QUESTION)
    return resample(samples, rate, 16000)


def picker_config(tiny_dir, llama_url: str, model_id: str, dead_port: int):
    config = make_config(
        tiny_dir,
        servers={
            "local-llama": {"url": llama_url, "timeout_s": 30},
            "nowhere": {"url": f"http://127.0.0.1:{dead_port}/v1"},
        },
        embedded={"chat_model": "smollm2-135m"},
        chunked_response={"generation": {"max_new_tokens": 24}},
    )
    return config.model_copy(
        update={"model": config.model.model_copy(update={"id": model_id})}
    )


@pytest.fixture
def app(qtbot, tiny_models, settings, sound, llama):
    built = []

    def make(model_id: str, freeze: bool = False):
        config = picker_config(
            tiny_models["qwen2-audio"], llama.url, model_id, free_port()
        )
        controller = build(remembered_model(config, settings), settings, sound)
        controller.freeze_after_load = freeze  # as the app's main() sets it
        controller.window.show()
        controller.start()
        qtbot.waitUntil(lambda: controller.state.value != "loading", timeout=60000)
        built.append(controller)
        return controller

    yield make
    for controller in built:
        task = asyncio.ensure_future(controller.shutdown())
        qtbot.waitUntil(task.done, timeout=30000)
        # Deleted here, on the GUI thread: left to the garbage collector, a window can be
        # collected on a worker thread, and Qt aborts (seen in test_model_picker).
        controller.window.close()
        controller.window.deleteLater()
    qtbot.wait(20)  # runs the deferred deletions


def rows(box) -> list[str]:
    return [box.itemText(i) for i in range(box.count())]


def ask(controller, qtbot, sound, clip) -> AnswerBubble:
    with qtbot.waitSignal(controller.turn_finished, timeout=60000):
        hold_space(controller.window, sound, clip)
    return bubbles(controller, AnswerBubble)[-1]


def switch(controller, qtbot, model_id: str) -> None:
    box = controller.window.model_box
    row = box.findData(model_id)
    assert row >= 0, rows(box)
    box.setCurrentIndex(row)
    box.activated.emit(row)  # what a click on the row sends
    qtbot.waitUntil(
        lambda: (
            controller.engine.config.model.id == model_id
            and controller.state.value == "ready"
        ),
        timeout=60000,
    )


def test_the_picker_lists_what_can_answer(app, qtbot):
    controller = app("embedded")
    box = controller.window.model_box
    assert box.currentData() == "embedded"
    # servers are checked off the GUI thread: one answers, one does not
    qtbot.waitUntil(lambda: "reachable" in box.itemText(box.findData("local-llama")))
    qtbot.waitUntil(lambda: "not answering" in box.itemText(box.findData("nowhere")))
    for name, preset in PRESETS.items():
        label = box.itemText(box.findData(name))
        assert preset.hub_id in label and f"{preset.download_gb:.1f} GB" in label
        assert "GPU" in box.itemData(
            box.findData(name), 3
        )  # the tooltip: what it needs


def test_switch_from_the_embedded_default_to_a_server_and_back(
    app, qtbot, sound, question, settings, tiny_models
):
    controller = app("embedded")
    assert "embedded" in controller.engine.pipeline.description
    before = controller.engine
    first = ask(controller, qtbot, sound, question)
    assert first.text_label.text()

    switch(controller, qtbot, "local-llama")
    assert not before.is_initialized  # unloaded: its llama.cpp and Whisper are gone
    assert "server local-llama" in controller.engine.pipeline.description
    answer = ask(controller, qtbot, sound, question)
    assert (
        answer.text_label.text()
        and "capital of japan" in controller.turns[-1].heard.lower()
    )
    assert settings.value("model/id") == "local-llama"
    notes = [n.text() for n in bubbles(controller, NoteLabel)]
    assert any("Switching to Server: local-llama (a new" in n for n in notes), notes

    # and back to the embedded default, which answers again
    server_engine = controller.engine
    switch(controller, qtbot, "embedded")
    assert not server_engine.is_initialized
    again = ask(controller, qtbot, sound, question)
    assert again.text_label.text()
    assert settings.value("model/id") == "embedded"


def test_the_users_bubble_keeps_a_line_for_what_is_heard(
    app, qtbot, sound, question, monkeypatch
):
    """With a recogniser, the user's bubble has its line for the transcript from the turn's
    start, so the transcript arriving grows nothing (no relayout and scroll while the model
    computes); a clip in which nothing is heard keeps no line."""
    controller = app("embedded")
    before: list[tuple[bool, str]] = []
    original = UserBubble.set_heard

    def spy(self, text):
        before.append((self.heard_label.isVisible(), self.heard_label.text()))
        original(self, text)

    monkeypatch.setattr(UserBubble, "set_heard", spy)
    ask(controller, qtbot, sound, question)
    assert before == [(True, "…")]
    user = bubbles(controller, UserBubble)[-1]
    assert user.heard_label.isVisible() and "japan" in user.heard_label.text().lower()
    ask(controller, qtbot, sound, np.zeros(16000, np.float32))
    assert bubbles(controller, UserBubble)[-1].heard_label.isHidden()
    assert len(before) == 1


class Cycle:
    me: Cycle


def test_what_a_load_froze_is_collected_once_the_model_is_switched(
    app, qtbot, tiny_models
):
    """The app leaves what loading created out of later garbage collections (a full one
    walked ~290k objects in ~120 ms on the GUI thread); switching away unfreezes it, so an
    audio model's reference cycles are still collected and its memory given back."""
    controller = app(str(tiny_models["qwen2-audio"]), freeze=True)
    try:
        assert gc.get_freeze_count() > 0
        # A reference cycle the model's objects could hold, made before the freeze.
        cycle = Cycle()
        cycle.me = cycle
        controller.engine.pipeline.model.cycle = cycle
        collected = weakref.ref(cycle)
        del cycle
        gc.freeze()
        switch(controller, qtbot, "local-llama")
        assert collected() is None
        assert gc.get_freeze_count() > 0  # the server's load froze what it made
    finally:
        gc.unfreeze()


def test_the_choice_is_remembered_across_restarts(app, qtbot, settings):
    settings.setValue("model/id", "local-llama")
    controller = app("embedded")  # the config says embedded; the window's choice wins
    assert controller.engine.config.model.id == "local-llama"
    assert controller.window.model_box.currentData() == "local-llama"


def test_a_remembered_server_that_left_the_config_is_ignored(app, settings):
    settings.setValue("model/id", "a-server-since-removed")
    controller = app("embedded")
    assert controller.engine.config.model.id == "embedded"


def test_a_server_that_is_down_is_a_note_and_the_next_turn_works(
    app, qtbot, sound, question, settings
):
    """Picked while not answering: it loads (the note says why it can't answer yet), a
    turn ends in a short error note, nothing hangs, and after switching to a live server
    the next turn is answered. Only the live one is what the next start opens on."""
    controller = app("embedded")
    switch(controller, qtbot, "nowhere")
    notes = [n.text() for n in bubbles(controller, NoteLabel)]
    assert any("not answering yet" in n for n in notes)
    assert settings.value("model/id") != "nowhere"
    with qtbot.waitSignal(controller.turn_finished, timeout=60000):
        hold_space(controller.window, sound, question)
    assert "can't be reached" in controller.turns[-1].note
    switch(controller, qtbot, "local-llama")
    answer = ask(controller, qtbot, sound, question)
    assert answer.text_label.text() and controller.turns[-1].note is None
    assert settings.value("model/id") == "local-llama"


def test_editing_the_config_wins_over_an_older_choice(app, settings):
    settings.setValue(
        "model/config_id", "some-other-model"
    )  # the config said this then
    settings.setValue("model/id", "local-llama")  # and the window picked this
    controller = app("embedded")  # now the config says embedded
    assert controller.engine.config.model.id == "embedded"
    assert settings.value("model/id") is None


def test_switches_made_while_loading_end_on_the_last_choice(
    qtbot, tiny_models, settings, sound, llama, question
):
    """Picked while the embedded default is still loading, then picked again before that
    switch is done: the window keeps drawing, ends on the last choice, and answers; the
    engines left behind are closed."""
    from PySide6.QtCore import QTimer

    config = picker_config(
        tiny_models["qwen2-audio"], llama.url, "embedded", free_port()
    )
    controller = build(config, settings, sound)
    controller.window.show()
    ticks: list[float] = []
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(asyncio.get_event_loop().time()))
    timer.start(10)
    first = controller.engine
    controller.start()
    qtbot.waitUntil(lambda: controller.state.value == "loading")
    box = controller.window.model_box
    for model_id in ("local-llama", "nowhere", "local-llama"):
        row = box.findData(model_id)
        box.setCurrentIndex(row)
        box.activated.emit(row)
        qtbot.wait(5)
    qtbot.waitUntil(
        lambda: (
            controller.engine.config.model.id == "local-llama"
            and controller.state.value == "ready"
        ),
        timeout=60000,
    )
    timer.stop()
    assert not first.is_initialized
    assert box.currentData() == "local-llama"
    # The loop never stopped for a model's close or for importing the server client (a
    # second each before; a load's Python parts still hold the GIL ~0.3 s at a time).
    assert max(b - a for a, b in itertools.pairwise(ticks)) < 0.75
    answer = ask(controller, qtbot, sound, question)
    assert answer.text_label.text() and controller.turns[-1].note is None
    assert settings.value("model/id") == "local-llama"
    task = asyncio.ensure_future(controller.shutdown())
    qtbot.waitUntil(task.done, timeout=30000)


def test_the_language_choice_reaches_the_recogniser_and_is_remembered(
    app, qtbot, settings, tiny_models
):
    controller = app("embedded")
    box = controller.window.language_box
    assert box.isEnabled() and box.currentData() == "en"  # config.yaml's default
    assert controller.engine.language == "en"
    row = box.findData("de")
    assert (
        box.itemText(row) == "German" and box.itemText(box.findData("auto")) == "Detect"
    )
    box.setCurrentIndex(row)
    box.activated.emit(row)
    assert controller.engine.language == "de"
    assert settings.value("recognition/language") == "de"
    notes = [n.text() for n in bubbles(controller, NoteLabel)]
    assert "Listening for German" in notes, notes

    # a model that hears the clip itself: nothing to choose, and the box says why
    audio_model = app(str(tiny_models["qwen2-audio"]))
    assert not audio_model.window.language_box.isEnabled()
    assert "hears the clip itself" in audio_model.window.language_box.toolTip()

    # a restart keeps the choice, and detection is applied as None
    again = app("embedded")
    assert again.window.language_box.currentData() == "de"
    assert again.engine.language == "de"
    detect = again.window.language_box.findData("auto")
    again.window.language_box.activated.emit(detect)
    assert again.engine.pipeline.recognizer.language is None


def test_detection_limited_to_the_users_languages_says_which(qtbot, settings):
    box = QComboBox()
    qtbot.addWidget(box)
    picker = LanguagePicker(box, settings, None, among=("en", "de"))
    notes: list[str] = []
    picker.note.connect(notes.append)
    auto = box.findData("auto")
    assert box.currentIndex() == auto  # config.yaml's language: auto
    assert box.itemText(auto) == "Detect: English, German"
    assert box.toolTip().endswith("Detect hears English or German")
    box.activated.emit(box.findData("fr"))
    box.activated.emit(auto)
    assert notes == ["Listening for French", "Listening for English or German"]
    assert settings.value("recognition/language") == "auto"


def tick(dialog, *names: str) -> None:
    for row in range(dialog.languages.count()):
        item = dialog.languages.item(row)
        if item.text() in names:
            item.setCheckState(Qt.CheckState.Checked)
        else:
            item.setCheckState(Qt.CheckState.Unchecked)


def test_the_languages_detection_chooses_among_are_ticked_in_the_window(
    qtbot, settings
):
    box = QComboBox()
    qtbot.addWidget(box)
    box.show()
    picker = LanguagePicker(box, settings, "en")  # the config chooses none
    notes: list[str] = []
    picker.note.connect(notes.append)
    choose = box.findData("choose")
    assert box.itemText(choose) == "Detect among…"

    box.activated.emit(choose)  # Cancel: nothing changes
    dialog = picker.dialog
    assert dialog is not None and dialog.isVisible()
    assert box.currentData() == "en"  # the box shows the language still heard
    tick(dialog, "German")
    dialog.reject()
    assert picker.among == () and box.currentData() == "en" and notes == []

    box.activated.emit(choose)  # OK: detection, among the ticked
    qtbot.waitUntil(lambda: picker.dialog is not None and picker.dialog.isVisible())
    tick(picker.dialog, "English", "German")
    picker.dialog.accept()
    assert picker.among == ("en", "de")
    assert box.currentData() == "auto"
    assert box.currentText() == "Detect: English, German"
    assert notes == ["Listening for English or German"]
    assert settings.value("recognition/language") == "auto"

    again = QComboBox()  # a restart keeps them, over the config's
    qtbot.addWidget(again)
    restarted = LanguagePicker(again, settings, "en", among=("fr",))
    assert restarted.among == ("en", "de")
    assert again.currentText() == "Detect: English, German"

    box.activated.emit(choose)  # none ticked: any language again
    qtbot.waitUntil(lambda: picker.dialog is not None and picker.dialog.isVisible())
    tick(picker.dialog)
    picker.dialog.accept()
    assert picker.among == () and box.currentText() == "Detect"
    assert notes[-1] == "Listening for any language"


def test_detect_among_in_the_window_reaches_the_recogniser_and_space_ticks_not_talks(
    app, qtbot
):
    controller = app("embedded")
    box = controller.window.language_box
    serial = controller.recorder.serial
    box.activated.emit(box.findData("choose"))
    dialog = controller.languages.dialog
    qtbot.waitUntil(dialog.isVisible)
    dialog.activateWindow()
    dialog.languages.setFocus()
    qtbot.waitUntil(dialog.languages.hasFocus)
    # the talk key (Space) in the dialog's list ticks the language, and records nothing
    QTest.keyClick(dialog.languages, Qt.Key.Key_Space)  # English, the first row
    QTest.keyClick(dialog.languages, Qt.Key.Key_Down)
    QTest.keyClick(dialog.languages, Qt.Key.Key_Space)  # German
    assert dialog.ticked() == ["en", "de"]
    assert controller.recorder.serial == serial and not controller.ptt.held
    dialog.accept()
    recognizer = controller.engine.pipeline.recognizer
    assert recognizer.language is None and recognizer.detect_among == {"en", "de"}
    assert box.currentText() == "Detect: English, German"
    notes = [n.text() for n in bubbles(controller, NoteLabel)]
    assert "Listening for English or German" in notes, notes


def test_a_hold_begun_in_the_window_ends_when_a_dialog_takes_the_keys(app, qtbot):
    controller = app("embedded")
    window = controller.window
    window.activateWindow()
    window.chat.setFocus()
    qtbot.waitUntil(window.chat.hasFocus)
    serial = controller.recorder.serial
    QTest.keyPress(window.chat, Qt.Key.Key_Space)
    assert controller.ptt.held and controller.recorder.serial == serial + 1
    box = window.language_box
    box.activated.emit(box.findData("choose"))  # the dialog comes up mid-hold
    dialog = controller.languages.dialog
    dialog.activateWindow()
    dialog.languages.setFocus()
    qtbot.waitUntil(dialog.languages.hasFocus)
    QTest.keyRelease(dialog.languages, Qt.Key.Key_Space)
    assert not controller.ptt.held  # the release still ends the recording
    assert dialog.ticked() == []  # and ticks nothing
    dialog.reject()
