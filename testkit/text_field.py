"""Another application for dictation to type into: a window with one text field that
writes what it holds to a file at every change. Optionally it first puts some text on the
clipboard (the user's, to be kept).

    python -m testkit.text_field OUT.txt [--clipboard TEXT] [--title TITLE]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from PySide6.QtWidgets import QApplication, QPlainTextEdit

TITLE = "Dictation target"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out", type=Path)
    parser.add_argument("--clipboard")
    parser.add_argument("--title", default=TITLE)
    args = parser.parse_args()
    app = QApplication(sys.argv[:1])
    field = QPlainTextEdit()
    field.setWindowTitle(args.title)
    field.resize(500, 200)
    args.out.write_text("")
    field.textChanged.connect(lambda: args.out.write_text(field.toPlainText()))
    if args.clipboard is not None:
        app.clipboard().setText(args.clipboard)
    field.show()
    field.activateWindow()
    field.setFocus()
    sys.exit(app.exec())


if __name__ == "__main__":
    main()
