"""Faults as the window meets them: each is a short note in the conversation, and the next
turn works."""

from __future__ import annotations

import asyncio
import time

import torch
from PySide6.QtWidgets import QFileDialog

from core.models import devices
from desktop_app.widgets.chat_view import AnswerBubble, NoteLabel
from testkit.tiny_model import TINY_SENTENCE
from tests.conftest import speech_like, step_hook, thread_names
from tests.desktop.test_window import bubbles, hold_space


def test_out_of_memory_mid_answer_is_a_note_and_the_next_turn_works(
    make_app, qtbot, sound
):
    controller = make_app(chunked_response={"chunk_size_words": 1})

    def fail(step):
        if step == 5:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2 GiB")

    with (
        step_hook(controller.engine, fail),
        qtbot.waitSignal(controller.turn_finished, timeout=30000) as finished,
    ):
        hold_space(controller.window, sound, speech_like())
    (answer,) = bubbles(controller, AnswerBubble)
    assert answer.note.startswith("The model ran out of memory")
    assert finished.args[0].note == answer.note
    assert controller.window.status.text().startswith("Ready")
    with qtbot.waitSignal(controller.turn_finished, timeout=30000):
        hold_space(controller.window, sound, speech_like())
    assert bubbles(controller, AnswerBubble)[-1].text == TINY_SENTENCE


def test_export_to_a_place_that_cannot_be_written_is_a_note(
    make_app, qtbot, sound, tmp_path, monkeypatch
):
    controller = make_app()
    with qtbot.waitSignal(controller.turn_finished, timeout=30000):
        hold_space(controller.window, sound, speech_like())
    for target in (tmp_path, tmp_path / "no-such-folder" / "chat.md"):
        # The file dialog is the desktop's; the user's choice is the boundary.
        monkeypatch.setattr(
            QFileDialog, "getSaveFileName", lambda *a, t=target, **k: (str(t), "")
        )
        controller.export_dialog()
        assert bubbles(controller, NoteLabel)[-1].text().startswith("Could not export")
    assert not (tmp_path / "no-such-folder").exists()
    # and a good place still works afterwards
    good = tmp_path / "chat.md"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(good), ""))
    controller.export_dialog()
    assert TINY_SENTENCE in good.read_text()


def test_no_output_device_for_play_is_a_note(make_app, qtbot, sound):
    controller = make_app()
    with qtbot.waitSignal(controller.turn_finished, timeout=30000):
        hold_space(controller.window, sound, speech_like())

    def no_output(samples, samplerate):
        raise sound.PortAudioError("Error querying device -1")

    sound.play = no_output
    controller.window.chat.items()[0].play_button.click()
    assert "Could not play the clip" in bubbles(controller, NoteLabel)[-1].text()


def test_closing_mid_answer_stops_it_and_leaves_no_thread(make_app, qtbot, sound):
    before = thread_names()
    controller = make_app(chunked_response={"chunk_size_words": 1})
    with step_hook(controller.engine, lambda step: time.sleep(0.05)):
        hold_space(controller.window, sound, speech_like())
        qtbot.waitUntil(
            lambda: any(a.chunks for a in bubbles(controller, AnswerBubble)),
            timeout=30000,
        )
        started = time.perf_counter()
        task = asyncio.ensure_future(controller.shutdown())
        qtbot.waitUntil(task.done, timeout=10000)
        elapsed = time.perf_counter() - started
    task.result()
    assert elapsed < 2  # not the rest of the answer
    assert bubbles(controller, AnswerBubble)[0].interrupted
    assert not controller.recorder.is_open
    qtbot.waitUntil(lambda: thread_names() <= before, timeout=5000)


def test_a_gpu_torch_cannot_use_is_said_in_the_window(
    make_app, qtbot, tmp_path, monkeypatch
):
    """An NVIDIA driver too old for torch's CUDA (the driver's /proc file and torch's CUDA
    version injected): the model still loads, on the CPU, and the chat says why it is slow."""
    version = tmp_path / "version"
    version.write_text(
        "NVRM version: NVIDIA UNIX x86_64 Kernel Module  535.183.01  Sun\n"
    )
    monkeypatch.setattr(devices, "_NVIDIA_DRIVER", (str(version),))
    monkeypatch.setattr(devices, "_DRIVER_VERSION", str(version))
    monkeypatch.setattr(torch.version, "cuda", "13.0")
    controller = make_app(model={"device": "auto"})
    assert controller.state.value == "ready"
    qtbot.waitUntil(lambda: bool(bubbles(controller, NoteLabel)), timeout=5000)
    note = bubbles(controller, NoteLabel)[-1].text()
    assert "driver 535.183.01" in note and "CUDA 13.0 needs driver 580" in note
