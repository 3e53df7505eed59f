"""The voice in a process of its own: started once and reused for every answer, a barge-in
that does not wait for the synthesis under way, a killed process reported and replaced, and
nothing left behind (process, thread, socket) after ``close``, after a crash, or when the
app itself goes away."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from core.models.packaged import default_cache_dir
from core.speech.speaker import Speaker
from core.speech.voice import VoiceError, voice_file
from core.speech.voice_process import NICE, VoiceProcess
from testkit import paths
from tests.conftest import thread_names

ROOT = paths.ROOT
LONG = (
    "This sentence is long on purpose, so that synthesising it takes a good while, "
    "long enough for a listener to interrupt the answer before its audio is ready."
)


class Blocks:
    """The sound card's boundary: what the speaker wrote, and when."""

    sample_rate = 22050

    def __init__(self) -> None:
        self.written: list[tuple[float, np.ndarray]] = []

    def write(self, samples):
        self.written.append((time.perf_counter(), samples))

    def silence(self):
        pass

    def drain(self):
        pass

    def pending_s(self):
        return 0.0

    def close(self):
        pass


def open_fds() -> set[str]:
    return set(os.listdir("/proc/self/fd"))


def gone(pid: int, within_s: float = 5.0) -> bool:
    """The process has ended and been reaped (no zombie either)."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if not Path(f"/proc/{pid}").exists():
            return True
        time.sleep(0.02)
    return False


def children() -> set[int]:
    ours = Path(f"/proc/{os.getpid()}/task/{os.getpid()}/children")
    return {int(p) for p in ours.read_text().split()}


@pytest.fixture
def onnx() -> Path:
    return voice_file("joe", default_cache_dir())


@pytest.fixture
def clean(onnx):
    """The process's children, threads and file descriptors before, for comparing after."""
    return children(), thread_names(), open_fds()


def assert_nothing_left(clean, pid: int) -> None:
    kids, threads, fds = clean
    assert gone(pid), f"voice process {pid} still there"
    assert children() <= kids
    assert "ptt-voice" not in thread_names() and thread_names() <= threads
    assert open_fds() <= fds, open_fds() - fds


def speak(voice, text: str) -> Speaker:
    speaker = Speaker(voice, Blocks())
    speaker.feed(text + " ")
    speaker.finish()
    assert speaker.wait(60)
    return speaker


def test_one_process_serves_every_answer_and_is_gone_after_close(onnx, clean):
    voice = VoiceProcess(onnx)
    pid = voice.pid
    assert voice.sample_rate == 22050 and Path(f"/proc/{pid}").exists()
    # at a lower priority than the app (it only ever waits for the app, never the reverse)
    ours = os.getpriority(os.PRIO_PROCESS, 0)
    assert os.getpriority(os.PRIO_PROCESS, pid) == min(19, ours + NICE)
    for text in ("The capital of France is Paris.", "There are seven days in a week."):
        speaker = speak(voice, text)
        assert speaker.error is None and [s for s, _ in speaker.spoken] == [text]
        seconds = sum(len(b) for _, b in speaker.sink.written) / voice.sample_rate
        assert 1.0 < seconds < 4.0
    assert voice.pid == pid and voice.starts == 1  # reused, not restarted
    voice.close()
    voice.close()  # twice is harmless
    assert_nothing_left(clean, pid)
    with pytest.raises(VoiceError, match="closed"):
        next(voice.synthesize("Too late."))


def test_barge_in_does_not_wait_for_the_sentence_being_synthesised(onnx, clean):
    with VoiceProcess(onnx) as voice:
        speak(voice, "Warm up.")
        speaker = Speaker(voice, Blocks())
        speaker.feed(LONG + " ")  # a clause: out to the process at once
        time.sleep(0.05)  # the process is synthesising it now
        stopped = time.perf_counter()
        speaker.stop()
        assert speaker.wait(0.05), "the worker waited for the synthesis to finish"
        print(f"worker done {(time.perf_counter() - stopped) * 1000:.1f} ms after stop")
        assert speaker.sink.written == [] and speaker.spoken == []
        assert speaker.error is None
        # the next answer hears only its own sentence: the old one's audio is discarded
        after = speak(voice, "Next question.")
        assert [s for s, _ in after.spoken] == ["Next question."]
        (block,) = [b for _, b in after.sink.written]
        assert len(block) / voice.sample_rate < 2.0  # two words, not the long sentence
        pid = voice.pid
    assert_nothing_left(clean, pid)


def test_a_killed_process_is_a_clear_error_and_the_next_answer_gets_a_new_one(
    onnx, clean
):
    voice = VoiceProcess(onnx)
    first = voice.pid
    speaker = Speaker(voice, Blocks())
    speaker.feed(LONG + " ")
    time.sleep(0.05)
    os.kill(first, signal.SIGKILL)
    assert speaker.wait(5)
    assert isinstance(speaker.error, VoiceError)
    assert "voice process ended unexpectedly (killed by SIGKILL)" in str(speaker.error)
    assert gone(first)
    # the text answer is not the speaker's business; the next spoken answer works again
    again = speak(voice, "The capital of France is Paris.")
    assert again.error is None and len(again.spoken) == 1
    assert voice.starts == 2 and voice.pid != first
    second = voice.pid
    voice.close()
    assert_nothing_left(clean, second)


def test_an_unusable_voice_says_why_and_leaves_no_process(tmp_path, clean):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a model")
    bad.with_suffix(".onnx.json").write_text("{}")
    with pytest.raises(VoiceError, match="could not load the voice"):
        VoiceProcess(bad)
    kids, threads, fds = clean
    assert children() <= kids and thread_names() <= threads and open_fds() <= fds


def test_the_process_ends_when_the_app_dies_without_closing_it(onnx):
    """An app killed outright (or exiting without ``close``) leaves no voice process:
    the child reads the end of its socket and exits."""
    script = (
        "import os, sys\n"
        "from pathlib import Path\n"
        "from core.speech.voice_process import NICE, VoiceProcess\n"
        "voice = VoiceProcess(Path(sys.argv[1]))\n"
        "print(voice.pid, flush=True)\n"
        "os.kill(os.getpid(), 9)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(onnx)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        check=False,
    )
    assert done.returncode == -signal.SIGKILL, done.stderr
    pid = int(done.stdout.split()[0])
    assert gone(pid), f"voice process {pid} outlived its app"


def test_stopping_from_many_threads_while_speaking_is_safe(onnx, clean):
    """Barge-ins from the GUI thread race the worker's requests: no deadlock, no error."""
    with VoiceProcess(onnx) as voice:
        speakers = []
        for _ in range(5):
            speaker = Speaker(voice, Blocks())
            speaker.feed("One sentence. Another sentence. A third one. ")
            speakers.append(speaker)
            threading.Timer(0.02, speaker.stop).start()
        for speaker in speakers:
            assert speaker.wait(10) and speaker.error is None
        assert len(speak(voice, "Still fine.").spoken) == 1
        pid = voice.pid
    time.sleep(0.1)  # the timers' threads end
    assert_nothing_left(clean, pid)
