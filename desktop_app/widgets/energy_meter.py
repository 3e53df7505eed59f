"""The live microphone level: a bar in dBFS with the speech threshold marked."""

from __future__ import annotations

import time

from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import QColor, QPainter, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

FLOOR_DBFS = -80.0
FALL_DB_PER_S = 40.0  # the bar falls smoothly instead of flickering between blocks


class EnergyMeter(QWidget):
    speech_changed = Signal(bool)

    def __init__(
        self, threshold_dbfs: float = -45.0, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.threshold_dbfs = threshold_dbfs
        self.level_dbfs = FLOOR_DBFS  # the latest reading
        self.shown_dbfs = FLOOR_DBFS  # what the bar draws (peak with a gentle fall)
        self.is_speech = False
        self.updates = 0
        self._last_update = time.monotonic()
        self.setMinimumSize(110, 22)  # room for "-80 dBFS" and a short bar
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setAccessibleName("Microphone level")

    def set_level(self, dbfs: float) -> None:
        now = time.monotonic()
        fallen = self.shown_dbfs - FALL_DB_PER_S * (now - self._last_update)
        self._last_update = now
        self.level_dbfs = max(FLOOR_DBFS, min(0.0, dbfs))
        self.shown_dbfs = max(self.level_dbfs, fallen, FLOOR_DBFS)
        self.updates += 1
        speech = self.level_dbfs > self.threshold_dbfs
        if speech != self.is_speech:
            self.is_speech = speech
            self.speech_changed.emit(speech)
        self.setToolTip(
            f"{self.level_dbfs:.0f} dBFS (speech above {self.threshold_dbfs:.0f})"
        )
        self.update()

    def _x(self, dbfs: float, width: float) -> float:
        return width * (dbfs - FLOOR_DBFS) / -FLOOR_DBFS

    def paintEvent(self, event) -> None:
        # Ended on leaving, not when Python frees it: a frame kept alive (a traceback, a
        # profiler's sample) would keep it painting past the backing store's end.
        with QPainter(self) as painter:
            painter.setRenderHint(QPainter.RenderHint.Antialiasing)
            rect = QRectF(self.rect()).adjusted(1, 1, -1, -1)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(self.palette().base())
            painter.drawRoundedRect(rect, 4, 4)
            fill = QColor("#3fb950") if self.is_speech else QColor("#8b949e")
            painter.setBrush(fill)
            width = self._x(self.shown_dbfs, rect.width())
            painter.drawRoundedRect(
                QRectF(rect.left(), rect.top(), width, rect.height()), 4, 4
            )
            x = rect.left() + self._x(self.threshold_dbfs, rect.width())
            painter.setPen(QPen(QColor("#f85149"), 2))
            painter.drawLine(int(x), int(rect.top()), int(x), int(rect.bottom()))
            painter.setPen(self.palette().text().color())
            label = "speech" if self.is_speech else f"{self.level_dbfs:.0f} dBFS"
            painter.drawText(
                rect.adjusted(6, 0, -6, 0),
                Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignRight,
                label,
            )
