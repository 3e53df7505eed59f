"""What every way of typing dictated text offers (``typists``, ``portal_typist``)."""

from __future__ import annotations

from typing import Protocol


class TypingFailed(RuntimeError):
    """The text could not be typed; the message says why and what to do."""


class Typist(Protocol):
    #: for notes and logs: how it types
    name: str

    def type(self, text: str) -> None:
        """Type ``text`` into the focused window (blocking)."""
        ...

    def erase(self, count: int) -> None:
        """Press Backspace ``count`` times (undo the last dictation)."""
        ...

    def press(self, keys: str) -> None:
        """Press a key combination such as ``ctrl+v`` or ``ctrl+shift+v``."""
        ...
