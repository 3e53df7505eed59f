"""How long the window freezes when a turn is added to a long conversation.

    QT_QPA_PLATFORM=offscreen .venv/bin/python -m benchmarks.chat_view_scaling

The real chat column; after 10, 40 and 160 turns, one more (the user's bubble with what was
heard, the answer's bubble, its text) is added and the event loop run until it is laid out
and painted. Side by side in one run, turn by turn: the app's column, whose rows, layouts and
labels remember their height for each width and tell the layout above at once when they
change, and the same column built from Qt's own box layouts and word-wrapped QLabels, which
remember one width at most, so the column lays every row out again for each turn added.
Writes benchmarks/results/chat_view_scaling.json.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QRect, Qt
from PySide6.QtWidgets import QApplication, QHBoxLayout, QLabel, QVBoxLayout

from benchmarks.engine_overhead import machine
from desktop_app.widgets import chat_view

ROOT = Path(__file__).resolve().parent.parent
TEXT = "The capital of France is Paris, a city known for the Eiffel Tower. " * 3
SIZES = (10, 40, 160)


def plain_label(text: str = "") -> QLabel:
    label = QLabel(text)
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.setWordWrap(True)
    return label


def settle(app: QApplication) -> None:
    for _ in range(3):
        app.processEvents()


def add_turn(view: chat_view.ChatView) -> None:
    view.add_user(3.2).set_heard("What is the capital of France?")
    view.add_answer().append(TEXT)


class QtColumn(QVBoxLayout):
    """Qt's column, with only the app's fix for a bubble that grows (no squeeze and regrow,
    measured on its own when it was made): what this benchmark compares is the rest."""

    def setGeometry(self, rect: QRect) -> None:
        super().setGeometry(chat_view.at_needed_height(self, rect))


APP = {
    "untrusted_label": chat_view.untrusted_label,
    "Row": chat_view.Row,
    "BubbleLayout": chat_view.BubbleLayout,
    "Column": chat_view.Column,
}
QT = {
    "untrusted_label": plain_label,
    "Row": QHBoxLayout,
    "BubbleLayout": QVBoxLayout,
    "Column": QtColumn,
}
KINDS = {"app": APP, "qt": QT}


def use(parts: dict) -> None:
    for name, part in parts.items():
        setattr(chat_view, name, part)


def measure(app: QApplication, repeats: int = 7) -> dict[str, dict[int, float]]:
    """Median ms to add and show one turn after each of SIZES turns, for each kind of
    column, the two alternated turn by turn."""
    views = {}
    for kind, parts in KINDS.items():
        use(parts)
        views[kind] = chat_view.ChatView()
        views[kind].resize(720, 800)
        views[kind].show()
    settle(app)
    result: dict[str, dict[int, float]] = {kind: {} for kind in KINDS}
    turns = 0
    for size in SIZES:
        for kind, view in views.items():
            use(KINDS[kind])
            for _ in range(size - turns):
                add_turn(view)
                settle(app)
        times: dict[str, list[float]] = {kind: [] for kind in KINDS}
        for _ in range(repeats):
            for kind, view in views.items():
                use(KINDS[kind])
                started = time.perf_counter()
                add_turn(view)
                settle(app)
                times[kind].append((time.perf_counter() - started) * 1000)
        turns = size + repeats
        for kind in KINDS:
            result[kind][size] = round(statistics.median(times[kind]), 1)
    use(APP)
    for view in views.values():
        view.close()
        view.deleteLater()
    settle(app)
    return result


def main() -> None:
    app = QApplication.instance() or QApplication(sys.argv[:1])
    rows = measure(app)
    print(
        "| turns so far | add a turn: app's column (ms) | Qt's layouts and QLabel (ms) | ratio |"
    )
    print("|---|---|---|---|")
    for size in SIZES:
        ours, qt = rows["app"][size], rows["qt"][size]
        print(f"| {size} | {ours} | {qt} | {ours / qt:.2f} |")
    out = ROOT / "benchmarks" / "results" / "chat_view_scaling.json"
    out.write_text(
        json.dumps(
            {
                "machine": machine(),
                "add_turn_ms": {
                    k: {str(s): v for s, v in r.items()} for k, r in rows.items()
                },
            },
            indent=2,
        )
        + "\n"
    )
    print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
