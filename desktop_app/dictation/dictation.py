"""Dictate mode's last step: the transcript typed into the window that has focus, by the
way the desktop offers (``desktop_app.dictation.typists``), typed or pasted as
``dictation.method`` says, never into our own window, and undone on request.

Pasting puts the text on the clipboard, presses the paste key and then puts back what the
user had there (every format of it), unless the user copied something else meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import subprocess
import time
from typing import Any

from PySide6.QtCore import QMimeData, QObject, Signal
from PySide6.QtWidgets import QApplication

from core.config import DictationSettings
from desktop_app.dictation.typist import TypingFailed, Typist
from desktop_app.dictation.typists import find_typists, session_type

log = logging.getLogger(__name__)

#: how long the focused application has to fetch pasted text before the user's clipboard
#: comes back (it asks for the text when it handles the key, after our key events)
RESTORE_AFTER_S = 0.5


class QtClipboard:
    """The clipboard through Qt: X11 (and a focused Wayland window)."""

    def __init__(self) -> None:
        self.board = QApplication.clipboard()

    def save(self) -> QMimeData:
        copy = QMimeData()
        held = self.board.mimeData()
        if held is not None:
            for name in held.formats():
                copy.setData(name, held.data(name))
        return copy

    def set_text(self, text: str) -> None:
        self.board.setText(text)

    def holds(self, text: str) -> bool:
        return self.board.text() == text

    def restore(self, saved: QMimeData) -> None:
        if saved.formats():
            self.board.setMimeData(saved)
        else:
            self.board.clear()


class WaylandClipboard:
    """The clipboard through wl-clipboard, which needs no focused window (text only)."""

    def __init__(self, copy: str, paste: str) -> None:
        self.copy, self.paste = copy, paste

    def _copy(self, *args: str, text: str | None = None) -> None:
        # no pipes for its output: wl-copy leaves a process behind serving the clipboard
        try:
            subprocess.run(
                [self.copy, *args],
                input=text,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                text=True,
                timeout=5,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            log.warning("dictation: wl-copy failed: %s", exc)

    def save(self) -> str:
        try:
            done = subprocess.run(
                [self.paste, "--no-newline"],
                capture_output=True,
                text=True,
                timeout=5,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            log.warning("dictation: wl-paste failed: %s", exc)
            return ""
        return done.stdout if done.returncode == 0 else ""

    def set_text(self, text: str) -> None:
        self._copy(text=text)

    def holds(self, text: str) -> bool:
        return self.save() == text

    def restore(self, saved: str) -> None:
        if saved:
            self._copy(text=saved)
        else:
            self._copy("--clear")


def clipboard_for_session() -> Any:
    copy, paste = shutil.which("wl-copy"), shutil.which("wl-paste")
    if session_type() == "wayland" and copy and paste:
        return WaylandClipboard(copy, paste)
    return QtClipboard()


class Dictation(QObject):
    note = Signal(str)

    def __init__(
        self,
        settings: DictationSettings,
        typists: tuple[list[Typist], str] | None = None,
        clipboard: Any = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.settings = settings
        self.typists, self.found = typists if typists is not None else find_typists()
        self.clipboard = clipboard
        self._last: tuple[Typist, int] | None = None  # what undo erases
        self._lock = asyncio.Lock()
        log.info("dictation: %s", self.found)

    @property
    def can_undo(self) -> bool:
        return self._last is not None

    def text_for(self, transcript: str) -> str:
        text = " ".join(transcript.split())
        return text + " " if text and self.settings.trailing_space else text

    async def deliver(self, transcript: str) -> str:
        """Type ``transcript`` into the focused window; a line for the chat says how."""
        text = self.text_for(transcript)
        if not text:
            return "Nothing was heard to type."
        # any window of ours (not held: a part keeping the window alive could have gc
        # destroy it mid-teardown)
        if QApplication.activeWindow() is not None:
            log.info("dictation: not typed, our own window has focus")
            return (
                "Not typed: this window has focus. Click into the window to type into, "
                "then hold the key (Also when another window has focus, under Change…)."
            )
        log.debug("dictating: %r", text)
        async with self._lock:
            started = time.perf_counter()
            if self.settings.method == "paste":
                said = await self._paste(text)
            else:
                said = await self._type(text)
            log.info(
                "dictation: %d characters delivered in %.0f ms: %s",
                len(text),
                (time.perf_counter() - started) * 1000,
                said,
            )
            return said

    async def _type(self, text: str) -> str:
        failures = []
        for typist in self.typists:
            try:
                await asyncio.to_thread(typist.type, text)
            except TypingFailed as exc:
                log.warning("dictation: %s could not type: %s", typist.name, exc)
                failures.append(str(exc))
                continue
            self._last = (typist, len(text))
            return f"Typed with {typist.name}."
        return self._left_on_clipboard(text, "; ".join(failures) or self.found)

    async def _paste(self, text: str) -> str:
        board = self._board()
        saved = board.save()
        board.set_text(text)
        for typist in self.typists:
            try:
                await asyncio.to_thread(typist.press, self.settings.paste_key)
            except TypingFailed as exc:
                log.warning("dictation: %s could not paste: %s", typist.name, exc)
                continue
            await asyncio.sleep(RESTORE_AFTER_S)
            if board.holds(text):  # else the user copied something since: keep that
                board.restore(saved)
            self._last = (typist, len(text))
            return f"Pasted with {self.settings.paste_key} ({typist.name})."
        return self._left_on_clipboard(text, self.found, already=True)

    def _board(self) -> Any:
        if self.clipboard is None:
            self.clipboard = clipboard_for_session()
        return self.clipboard

    def _left_on_clipboard(self, text: str, why: str, already: bool = False) -> str:
        if not already:
            self._board().set_text(text)
        self._last = None
        return (
            f"Could not type it ({why}). It is on the clipboard: paste it with Ctrl+V."
        )

    async def undo(self) -> str:
        """Erase the last dictation (as many Backspaces as it typed)."""
        if self._last is None:
            return "There is no dictation to undo."
        typist, count = self._last
        async with self._lock:
            try:
                await asyncio.to_thread(typist.erase, count)
            except TypingFailed as exc:
                return f"Could not undo the dictation: {exc}"
            self._last = None
        return f"Removed the last dictation ({count} characters)."
