"""How long the window freezes when a turn is added to a long conversation.

    QT_QPA_PLATFORM=offscreen .venv/bin/python -m benchmarks.chat_view_scaling

The real chat column; after 10, 40 and 160 turns, one more (the user's bubble with what was
heard, the answer's bubble, its text) is added and the event loop run until it is laid out
and painted. Side by side in one run: the app's labels, which remember their height for
each width, and the plain word-wrapped QLabel they replace, which lays its text out again
each time the column asks (every label, for every bubble added).
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

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QLabel

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


def measure(app: QApplication, labels, repeats: int = 5) -> dict[int, float]:
    """Median ms to add and show one turn, after each of SIZES turns."""
    chat_view.untrusted_label = labels
    view = chat_view.ChatView()
    view.resize(720, 800)
    view.show()
    settle(app)
    result, turns = {}, 0
    for size in SIZES:
        while turns < size:
            add_turn(view)
            settle(app)
            turns += 1
        times = []
        for _ in range(repeats):
            started = time.perf_counter()
            add_turn(view)
            settle(app)
            times.append((time.perf_counter() - started) * 1000)
            turns += 1
        result[size] = round(statistics.median(times), 1)
    view.close()
    view.deleteLater()
    settle(app)
    return result


def main() -> None:
    app = QApplication.instance() or QApplication(sys.argv[:1])
    remembered = chat_view.untrusted_label
    rows = {"remembered": {}, "qlabel": {}}
    for _ in range(2):  # alternated, the better of two each
        for name, labels in (("remembered", remembered), ("qlabel", plain_label)):
            for size, ms in measure(app, labels).items():
                rows[name][size] = min(rows[name].get(size, ms), ms)
    print(
        "| turns so far | add a turn: app's labels (ms) | plain QLabel (ms) | ratio |"
    )
    print("|---|---|---|---|")
    for size in SIZES:
        ours, plain = rows["remembered"][size], rows["qlabel"][size]
        print(f"| {size} | {ours} | {plain} | {ours / plain:.2f} |")
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
