"""Screenshot of the real window mid-answer, for the README.

    xvfb-run -a -s "-screen 0 1280x800x24" env QT_QPA_PLATFORM=xcb \\
        .venv/bin/python scripts/screenshot.py docs/screenshot.png

Runs the app on the embedded default with a stand-in microphone that "says" two spoken
questions; the picture is taken while the second answer is streaming.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path

import numpy as np
import qasync
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core import load_config
from core.audio import resample
from desktop_app.app import build
from desktop_app.widgets.chat_view import AnswerBubble
from testkit.fake_sounddevice import FakeSoundDevice, RealTimeMic
from testkit.voices import speak

QUESTIONS = [
    "What is the capital of France?",
    "Can you give me a tip for sleeping better at night?",
]


async def shoot(out: Path) -> None:
    sound = FakeSoundDevice()
    with tempfile.TemporaryDirectory() as tmp:
        settings = QSettings(str(Path(tmp) / "s.ini"), QSettings.Format.IniFormat)
        config = load_config(overrides={"chunked_response": {"chunk_size_words": 2}})
        controller = build(config, settings, sound)
        controller.window.resize(1180, 620)
        controller.window.show()
        controller.start()
        while controller.state.value == "loading":
            await asyncio.sleep(0.1)
        mic = RealTimeMic(sound)
        mic.start()
        for n, question in enumerate(QUESTIONS):
            samples, rate = speak(question)
            controller.ptt.press()
            mic.say(resample(samples, rate, 16000))
            await asyncio.sleep(len(samples) / rate + 0.3)
            controller.ptt.release()
            if n < len(QUESTIONS) - 1:
                done = asyncio.Event()
                controller.turn_finished.connect(lambda _t, d=done: d.set())
                await done.wait()
                continue
            # Mid-answer: a few chunks in, the loud meter of someone about to speak again.
            while True:
                answers = [
                    w
                    for w in controller.window.chat.items()
                    if isinstance(w, AnswerBubble)
                ]
                if len(answers) == n + 1 and len(answers[-1].chunks) >= 3:
                    break
                await asyncio.sleep(0.01)
            mic.say(
                (0.3 * np.sin(np.arange(8000) / 16000 * 2 * np.pi * 220)).astype(
                    np.float32
                )
            )
            await asyncio.sleep(0.15)
            controller.window.grab().save(str(out))
        mic.running = False
        mic.join()
        await controller.shutdown()


def main() -> None:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "docs/screenshot.png")
    app = QApplication.instance() or QApplication(sys.argv[:1])
    qasync.run(shoot(out))
    del app
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
