"""How responsive the window stays while an answer streams, with the meter running.

    QT_QPA_PLATFORM=offscreen .venv/bin/python -m benchmarks.gui_responsiveness [--turns 3]

The real window and controller on the embedded default; a stand-in sound card delivers 20 ms
blocks in real time from its own thread, as PortAudio does (the spoken sample question while
the key is held, low noise otherwise). A 1 ms Qt timer records how late the event loop runs it
while each answer streams: the longest stall is the worst freeze a user could see. Then the
same turns with *Speak answers* on, timed until the answer has been read aloud (synthesis by
the real piper voice in its own process, "played" by a stand-in output stream pulling 20 ms
blocks in real time from its own thread, as PortAudio does), turn by turn with the silent
ones; ``--in-thread`` adds turns with synthesis in the window's own process, and ``--gil-5ms``
silent turns with CPython's default GIL hand-off (the window asks for 1 ms), for comparison.
A turn during which other processes used the machine is taken again (machine_load.py).
Writes benchmarks/results/gui_responsiveness.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import soundfile as sf

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QElapsedTimer, QSettings, QTimer
from PySide6.QtWidgets import QApplication

from benchmarks.engine_overhead import machine
from benchmarks.machine_load import QUIET_CORES, Load
from core import load_config
from desktop_app.app import GUI_SWITCH_INTERVAL_S, build
from testkit.fake_sounddevice import FakeSoundDevice, RealTimeMic

ROOT = Path(__file__).resolve().parent.parent
CLIP = ROOT / "resources" / "sample-question.wav"


class _Status:
    output_underflow = False


class RealTimeOutput(threading.Thread):
    """A stand-in output stream: PortAudio's callback, called for each block on a real-time
    clock from its own thread, and the audio thrown away."""

    def __init__(self, samplerate, blocksize, callback, latency, **_kwargs) -> None:
        super().__init__(name="speaker", daemon=True)
        self.samplerate, self.blocksize, self.callback = samplerate, blocksize, callback
        self.latency = latency
        self.running = True

    def run(self) -> None:
        out = np.zeros((self.blocksize, 1), np.float32)
        tick = time.perf_counter()
        while self.running:
            self.callback(out, self.blocksize, None, _Status())
            tick += self.blocksize / self.samplerate
            time.sleep(max(0.0, tick - time.perf_counter()))

    def abort(self) -> None:
        self.running = False

    def close(self) -> None:
        self.running = False
        if self.is_alive():
            self.join()


class SoundCard(FakeSoundDevice):
    """The tests' stand-in sound card, with an output stream."""

    def OutputStream(self, **kwargs) -> RealTimeOutput:
        return RealTimeOutput(**kwargs)


class StallProbe:
    """A 1 ms timer; records how late each tick fires."""

    def __init__(self) -> None:
        self.clock = QElapsedTimer()
        self.timer = QTimer()
        self.timer.setInterval(1)
        self.timer.timeout.connect(self._tick)
        self.gaps: list[float] = []
        self.last = 0.0

    def _tick(self) -> None:
        now = self.clock.nsecsElapsed() / 1e6
        self.gaps.append(now - self.last)
        self.last = now

    def start(self) -> None:
        self.gaps = []
        self.clock.start()
        self.last = 0.0
        self.timer.start()

    def stop(self) -> list[float]:
        self.timer.stop()
        return self.gaps


def timed(owner, name: str) -> list[float]:
    """Wraps ``owner.name`` to record how long each call takes, in ms."""
    times: list[float] = []
    method = getattr(owner, name)

    def wrapper(*args, **kwargs):
        started = time.perf_counter()
        try:
            return method(*args, **kwargs)
        finally:
            times.append((time.perf_counter() - started) * 1000)

    setattr(owner, name, wrapper)
    return times


_IN_THREAD: list = []


def in_thread_voice():
    """The voice synthesising in the window's own process (the design before the voice
    had a process of its own), for comparison."""
    if not _IN_THREAD:
        from core.models.packaged import default_cache_dir
        from core.speech.voice import Voice, voice_file

        _IN_THREAD.append(Voice(voice_file("joe", default_cache_dir())))
    return _IN_THREAD[0]


async def run(turns: int, variants: tuple[str, ...]) -> dict:
    samples, rate = sf.read(CLIP, dtype="float32")
    sound = SoundCard()
    with tempfile.TemporaryDirectory() as tmp:
        settings = QSettings(str(Path(tmp) / "s.ini"), QSettings.Format.IniFormat)
        config = load_config(
            overrides={"model": {"id": "embedded"}, "memory": {"turns": 0}}
        )
        controller = build(config, settings, sound)
        controller.freeze_after_load = True  # as the app's main() sets it
        draws = timed(controller.window, "draw_now")
        original_interval = sys.getswitchinterval()
        controller.window.show()
        controller.start()
        while controller.state.value == "loading":
            await asyncio.sleep(0.1)
        assert controller.state.value == "ready", controller.load_error
        mic = RealTimeMic(sound)
        mic.start()
        probe = StallProbe()
        stalls: dict[str, list[float]] = {variant: [] for variant in variants}
        rates, answers = [], []
        loads: dict[str, list[float]] = {variant: [] for variant in variants}
        voice_process = None
        for turn in range(turns):  # the variants side by side, each leading in turn
            for variant in (
                variants[turn % len(variants) :] + variants[: turn % len(variants)]
            ):
                # CPython's default GIL hand-off, for comparison with the app's (main())
                sys.setswitchinterval(
                    0.005 if variant == "gil_5ms" else GUI_SWITCH_INTERVAL_S
                )
                speaks = variant in ("speaking", "in_thread")
                controller.set_speech(speaks)
                if speaks:
                    assert await controller.speech.prepare() is not None
                    voice_process = voice_process or controller.speech.voice
                    controller.speech.voice = (
                        voice_process if variant == "speaking" else in_thread_voice()
                    )
                for _attempt in range(6):  # again while other processes ran
                    finished = asyncio.Event()
                    controller.turn_finished.connect(lambda _t, f=finished: f.set())
                    controller.ptt.press()
                    mic.say(samples)
                    await asyncio.sleep(len(samples) / rate + 0.2)
                    controller.ptt.release()
                    updates, started = (
                        controller.window.meter.updates,
                        time.perf_counter(),
                    )
                    load = Load.reading()  # before the probe: it reads /proc
                    probe.start()
                    await finished.wait()
                    while controller.speech.speaker is not None:  # until read aloud
                        await asyncio.sleep(0.05)
                    gaps = probe.stop()
                    foreign = Load.foreign_cores(load)
                    rates.append(
                        (controller.window.meter.updates - updates)
                        / (time.perf_counter() - started)
                    )
                    answers.append(controller.turns[-1].answer)
                    await asyncio.sleep(0.5)
                    if foreign <= QUIET_CORES:
                        break
                    await asyncio.sleep(5)
                stalls[variant].append(max(gaps) - 1.0)  # lateness beyond the 1 ms
                loads[variant].append(round(foreign, 2))
        sys.setswitchinterval(original_interval)
        if voice_process is not None:
            controller.speech.voice = voice_process  # closed with the window
        mic.running = False
        mic.join()
        await controller.shutdown()
    return {
        "turns": turns,
        "gui_max_stall_ms": max(stalls["silent"]),
        "gui_max_stall_ms_speaking": max(stalls["speaking"]),
        "gui_median_turn_max_stall_ms": statistics.median(stalls["silent"]),
        "gui_median_turn_max_stall_ms_gil_5ms": (
            statistics.median(stalls["gil_5ms"]) if "gil_5ms" in stalls else None
        ),
        "gui_each_turn_max_stall_ms": {
            variant: [round(s, 1) for s in values] for variant, values in stalls.items()
        },
        # cores' worth of CPU other processes took during each turn kept
        "foreign_load_cores": loads,
        "meter_hz": statistics.median(rates),
        # each turn's start drawn before its clip goes to the model: the delay it adds
        "turn_start_draw_ms": round(statistics.median(draws), 2),
        "answers": answers,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--turns", type=int, default=3)
    parser.add_argument(
        "--in-thread",
        action="store_true",
        help="also the turns read aloud with synthesis in the window's process",
    )
    parser.add_argument(
        "--gil-5ms",
        action="store_true",
        help="also silent turns with CPython's default 5 ms GIL hand-off",
    )
    args = parser.parse_args()
    variants = (
        "silent",
        "speaking",
        *(("in_thread",) if args.in_thread else ()),
        *(("gil_5ms",) if args.gil_5ms else ()),
    )
    import qasync

    app = QApplication.instance() or QApplication(sys.argv[:1])
    results = qasync.run(run(args.turns, variants))
    del app
    print("| measure (while an answer streams) | value |\n|---|---|")
    print(
        f"| longest event-loop stall (target <= 16 ms) | {results['gui_max_stall_ms']:.1f} ms |"
    )
    print(
        f"| median of each turn's longest stall | {results['gui_median_turn_max_stall_ms']:.1f} ms |"
    )
    print(
        f"| longest stall with the answer read aloud | {results['gui_max_stall_ms_speaking']:.1f} ms |"
    )
    if args.in_thread:
        in_thread = max(results["gui_each_turn_max_stall_ms"]["in_thread"])
        print(f"| ... with synthesis in the window's process | {in_thread:.1f} ms |")
    if args.gil_5ms:
        default = results["gui_median_turn_max_stall_ms_gil_5ms"]
        print(
            f"| median turn's longest stall, default 5 ms GIL hand-off | {default:.1f} ms |"
        )
    print(
        "| a turn's start drawn before the model starts (delay it adds) "
        f"| {results['turn_start_draw_ms']:.1f} ms |"
    )
    print(f"| energy meter updates (target >= 30 Hz) | {results['meter_hz']:.0f} Hz |")
    print(f"\nanswers: {results['answers']}")
    out = ROOT / "benchmarks" / "results" / "gui_responsiveness.json"
    out.write_text(json.dumps({"machine": machine(), **results}, indent=2))
    print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
