"""The language speech is heard in: a combo box in the top bar, remembered (QSettings
``recognition/language``), applied to each model as it becomes ready. A model that hears
the clip itself (an audio model, a server that takes audio) has nothing to set: the box
is then disabled and says why. *Detect among…* ticks the languages detection may choose
(``recognition/detect_among``, else the config's ``embedded.auto_languages``)."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QObject, QSettings, Signal
from PySide6.QtWidgets import QComboBox

from core import StreamingEngine
from core.languages import WHISPER_LANGUAGES
from desktop_app.detect_languages_dialog import DetectLanguagesDialog

KEY = "recognition/language"
#: the languages detection chooses among, chosen in the window ("en,de"; "": any)
AMONG_KEY = "recognition/detect_among"
AUTO = "auto"
#: the entry that opens the list of languages detection chooses among
CHOOSE = "choose"
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
    if len(among) > 2:  # names would crowd the top bar; the tooltip has them
        return "Detect: " + ", ".join(among)
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
        choose (``embedded.auto_languages``; empty: any), unless the window chose them."""
        super().__init__(parent)
        saved_among = settings.value(AMONG_KEY)
        if isinstance(saved_among, str):
            among = [c for c in saved_among.split(",") if c in WHISPER_LANGUAGES]
        self.among = tuple(among)
        self.dialog: DetectLanguagesDialog | None = None
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
        # last, so that stepping through the languages seldom lands on it
        box.insertSeparator(box.count())
        box.addItem("Detect among…", CHOOSE)
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
        hears = engine.set_language(
            None if self.code == AUTO else self.code, among=self.among
        )
        self.box.setEnabled(hears)
        self.box.setToolTip(self.tip if hears else NOT_HERE)
        if not hears and self.dialog is not None:
            self.dialog.reject()  # nothing to choose for this model

    def choose_among(self) -> DetectLanguagesDialog:
        """Detect among…: the list, shown without blocking; OK detects among the ticked."""
        self.box.setCurrentIndex(self.box.findData(self.code))  # until OK
        if self.dialog is None:  # one, kept with the window
            offered = [code for code in OFFERED if code != AUTO]
            self.dialog = DetectLanguagesDialog(offered, self.box.window())
            self.dialog.chosen.connect(self.detect_among)
        if not self.dialog.isVisible():  # open already: its unsaved ticks stay
            self.dialog.tick(self.among)
        self.dialog.show()
        self.dialog.raise_()
        self.dialog.activateWindow()  # the keys go to its list at once
        self.dialog.languages.setFocus()
        return self.dialog

    def detect_among(self, codes: list[str]) -> None:
        """Detect the language of each clip, among ``codes`` (empty: any)."""
        self.among = tuple(codes)
        self.settings.setValue(AMONG_KEY, ",".join(codes))
        self.box.setItemText(self.box.findData(AUTO), label(AUTO, self.among))
        self.tip = TIP.format(listened_for(AUTO, self.among))
        if (
            self.box.isEnabled()
        ):  # else a model that hears the clip itself came meanwhile
            self.box.setToolTip(self.tip)
            self._hear(AUTO)

    def _picked(self, row: int) -> None:
        code = self.box.itemData(row)
        if code == CHOOSE:
            self.choose_among()
        elif code != self.code:
            self._hear(code)

    def _hear(self, code: str) -> None:
        """Listen for ``code`` from the next clip on: shown, remembered, applied, said."""
        self.box.setCurrentIndex(self.box.findData(code))
        self.code = code
        self.settings.setValue(KEY, code)
        self.apply()
        self.note.emit(f"Listening for {listened_for(code, self.among)}")
