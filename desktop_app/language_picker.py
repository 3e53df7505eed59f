"""The language speech is heard in: a combo box in the top bar, remembered (QSettings
``recognition/language``), applied to each model as it becomes ready. A model that hears
the clip itself (an audio model, a server that takes audio) has nothing to set: the box
is then disabled and says why."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QObject, QSettings, Signal
from PySide6.QtWidgets import QComboBox

from core import StreamingEngine
from core.languages import WHISPER_LANGUAGES

KEY = "recognition/language"
AUTO = "auto"
#: the box's entries: detection, then the languages most often spoken to Whisper
OFFERED = (
    AUTO,
    "en",
    "de",
    "fr",
    "es",
    "it",
    "pt",
    "nl",
    "pl",
    "ru",
    "uk",
    "tr",
    "sv",
    "ja",
    "zh",
    "ko",
    "ar",
    "hi",
)
TIP = "The language you speak: answers come in it too. Detect hears {}"
NOT_HERE = "This model hears the clip itself, in any language it knows"


def label(code: str, among: Sequence[str] = ()) -> str:
    """The box's text for ``code``; detection names the languages it chooses among."""
    if code != AUTO:
        return WHISPER_LANGUAGES.get(code, code)
    if not among:
        return "Detect"
    return "Detect: " + ", ".join(WHISPER_LANGUAGES[c] for c in among)


def listened_for(code: str, among: Sequence[str] = ()) -> str:
    """What a note says is listened for: the language's name; for detection "any
    language", or "English or German" when it chooses among those."""
    if code != AUTO:
        return label(code)
    names = [WHISPER_LANGUAGES[c] for c in among]
    if not names:
        return "any language"
    return " or ".join(filter(None, (", ".join(names[:-1]), names[-1])))


class LanguagePicker(QObject):
    note = Signal(str)

    def __init__(
        self,
        box: QComboBox,
        settings: QSettings,
        default: str | None,
        parent: QObject | None = None,
        among: Sequence[str] = (),
    ) -> None:
        """``default``: the config's language; ``among``: the languages detection may
        choose (``embedded.auto_languages``; empty: any)."""
        super().__init__(parent)
        self.among = tuple(among)
        self.box = box
        self.settings = settings
        # the engine last applied to, not the controller: no reference cycle through it
        self._engine: StreamingEngine | None = None
        saved = settings.value(KEY, default or AUTO)
        self.code = saved if saved == AUTO or saved in WHISPER_LANGUAGES else AUTO
        codes = list(OFFERED)
        if self.code not in codes:  # a language chosen in config.yaml
            codes.append(self.code)
        for code in codes:
            box.addItem(label(code, self.among), code)
        box.setCurrentIndex(box.findData(self.code))
        self.tip = TIP.format(listened_for(AUTO, self.among))
        box.setToolTip(self.tip)
        box.activated.connect(self._picked)

    def apply(self, engine: StreamingEngine | None = None) -> None:
        """Give ``engine`` (a model just ready), or the last one, the chosen language."""
        engine = engine or self._engine
        self._engine = engine
        if engine is None or not engine.is_initialized:
            return
        hears = engine.set_language(None if self.code == AUTO else self.code)
        self.box.setEnabled(hears)
        self.box.setToolTip(self.tip if hears else NOT_HERE)

    def _picked(self, row: int) -> None:
        code = self.box.itemData(row)
        if code == self.code:
            return
        self.code = code
        self.settings.setValue(KEY, code)
        self.apply()
        self.note.emit(f"Listening for {listened_for(code, self.among)}")
