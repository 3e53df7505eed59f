"""Ask the X server whether a key is down, to tell X's auto-repeat from a real release.

X auto-repeats a held key as release/press pairs. Qt's xcb plugin marks a pair as
auto-repeat only if the press is already in its queue when it handles the release, which
under load it often is not, so a held key looks released and pressed again. The server
processes each pair at once, between requests, so a ``QueryKeymap`` round trip sees the
key's true state: still down for auto-repeat, up for a real release.
"""

from __future__ import annotations

import contextlib
import logging
import os

from PySide6.QtGui import QGuiApplication

log = logging.getLogger(__name__)


class X11KeyState:
    """The X server's view of the keyboard, over a private connection opened on first use."""

    def __init__(self, display_name: str | None = None) -> None:
        self._display_name = display_name
        self._display = None
        self._failed = False

    @staticmethod
    def wanted() -> bool:
        """Only the xcb platform needs it: Wayland, macOS and Windows flag repeats reliably."""
        app = QGuiApplication.instance()
        return app is not None and QGuiApplication.platformName() == "xcb"

    def is_down(self, keycode: int) -> bool | None:
        """Whether X keycode ``keycode`` is held now; None when the server can't be asked."""
        if self._failed or not 8 <= keycode <= 255:
            return None
        try:
            if self._display is None:
                from Xlib import display

                self._display = display.Display(
                    self._display_name or os.environ.get("DISPLAY")
                )
            keymap = self._display.query_keymap()
        except Exception as exc:  # noqa: BLE001 - any failure: fall back to Qt's flag
            log.warning("cannot read the key state from the X server: %s", exc)
            self._failed = True
            self.close()
            return None
        return bool(keymap[keycode // 8] & (1 << (keycode % 8)))

    def close(self) -> None:
        display, self._display = self._display, None
        if display is not None:
            with contextlib.suppress(Exception):
                display.close()
