"""What the key settings need of a system-wide key, however the desktop gives it: the X11
grab (``global_hotkey``) or the Wayland portal's shortcut (``portal_shortcut``). Each reads
its events on a private thread and reports them as queued signals."""

from __future__ import annotations

import threading

from PySide6.QtCore import QObject, Signal


class SystemWideKey(QObject):
    pressed = Signal()
    released = Signal()
    failed = Signal(str)  # it ended by itself (a lost display or bus, a refusal): why

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.key_name: str | None = None
        self.refused = False  # the user said no in the desktop's dialog (the portal's)
        self._thread: threading.Thread | None = None
        # Set by the thread before it says why it ended: a ``failed`` handler must see it
        # is no longer running, though the thread has not quite exited.
        self._ended = threading.Event()

    @property
    def active(self) -> bool:
        return self._thread is not None

    @property
    def running(self) -> bool:
        """Active and its thread still reading (not ended by itself)."""
        return (
            self._thread is not None
            and self._thread.is_alive()
            and not self._ended.is_set()
        )

    def unavailable(self) -> str | None:
        """Why this desktop can't have it, for the key dialog; None where it may."""
        raise NotImplementedError

    def hint(self) -> str:
        """What the key dialog says of it."""
        raise NotImplementedError
