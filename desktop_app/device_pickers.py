"""The microphone and speaker pickers and the speech on/off toggle. Each choice is
remembered (QSettings), a device by its name, since PortAudio's indexes change when devices
come and go. A note for the chat goes out as the ``note`` signal."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QSettings, Signal

if TYPE_CHECKING:
    from desktop_app.audio_io import Recorder
    from desktop_app.main_window import MainWindow
    from desktop_app.speech_output import SpeechOutput


class DevicePickers(QObject):
    note = Signal(str)

    def __init__(
        self,
        window: MainWindow,
        recorder: Recorder,
        speech: SpeechOutput,
        settings: QSettings,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        # the boxes, not the window: a part holding it could destroy it mid-teardown (gc)
        self.device_box = window.device_box
        self.output_box = window.output_box
        self.recorder = recorder
        self.speech = speech
        self.settings = settings
        self._devices: list[tuple[int, str]] = []
        self._outputs: list[tuple[int, str]] = []
        self.device_box.activated.connect(self._pick_device)
        self.output_box.activated.connect(self._pick_output)
        speak = settings.value("speech/enabled", speech.enabled)
        speech.enabled = speak in (True, "true")
        window.speak_button.setChecked(speech.enabled)
        # connected only now: restoring the toggle is not a choice to remember
        window.speak_button.toggled.connect(self.set_speech)

    def start(self) -> None:
        """List the devices and open the remembered microphone (else the default)."""
        self._fill_devices()
        wanted = self.settings.value("audio/device_name")
        device = next((i for i, name in self._devices if name == wanted), None)
        self.recorder.open(device)
        self._fill_outputs()

    # -- microphone --------------------------------------------------------------------------

    def _fill_devices(self) -> None:
        self._devices = self.recorder.input_devices()
        box = self.device_box
        box.clear()
        box.addItem("System default", None)
        for index, name in self._devices:
            box.addItem(name, index)
        if not self._devices:
            box.setItemText(0, "No microphone found")

    def _pick_device(self, row: int) -> None:
        device = self.device_box.itemData(row)
        name = dict(self._devices).get(device)
        self.settings.setValue("audio/device_name", name)
        if self.recorder.open(device):
            self.note.emit(f"Microphone: {name or 'system default'}")

    # -- speaker -----------------------------------------------------------------------------

    def _fill_outputs(self) -> None:
        try:
            self.speech.backend = self.recorder.backend
        except OSError:
            self.speech.backend = None  # no PortAudio: DeviceSink says so when asked
        self._outputs = self.speech.output_devices() if self.speech.backend else []
        box = self.output_box
        box.clear()
        box.addItem("System default", None)
        for index, name in self._outputs:
            box.addItem(name, index)
        if not self._outputs:
            box.setItemText(0, "No speaker found")
        wanted = self.settings.value("speech/device_name")
        for row in range(box.count()):
            if box.itemText(row) == wanted:
                box.setCurrentIndex(row)
                self.speech.device = box.itemData(row)

    def _pick_output(self, row: int) -> None:
        self.speech.device = self.output_box.itemData(row)
        self.settings.setValue(
            "speech/device_name",
            dict(self._outputs).get(self.speech.device),
        )

    def set_speech(self, enabled: bool) -> None:
        """The speaker toggle: remembered; turning it off silences the answer being read."""
        self.speech.enabled = enabled
        self.settings.setValue("speech/enabled", enabled)
        if enabled:
            asyncio.ensure_future(self.speech.prepare())
        else:
            self.speech.stop()
