"""Where Whisper runs, with the GPU's faults injected at the library boundary (CTranslate2
and faster-whisper), never in our code: the real Whisper base then loads and hears a real
spoken question wherever it ends up."""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import ctranslate2
import faster_whisper
import pytest

from core.audio import resample
from core.config import validate_config
from core.models.packaged import WHISPER_BASE, assemble, default_cache_dir
from core.pipelines.recognizer import Recognizer
from core.pipelines.recognizer_device import (
    RecognizerDeviceError,
    compute_type_for,
    gpu_index,
    missing_library,
    wanted_device,
)
from testkit import paths
from testkit.voices import PIPER, speak

QUESTION = "What is the capital of Japan?"
# What CTranslate2 says on a GPU machine whose CUDA 12 cuBLAS is missing (faster-whisper
# issue 1431), at the first matrix product.
NO_CUBLAS = "Library libcublas.so.12 is not found or cannot be loaded"


def on_a_thread(work, *args, **kwargs):
    """Run CTranslate2 off the test's thread, as the app does: it sets the OpenMP thread
    count of the thread it runs on, which torch then reads there (other tests' models)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(work, *args, **kwargs).result()


def recognizer(*args, **kwargs) -> Recognizer:
    return on_a_thread(Recognizer, *args, **kwargs)


@pytest.fixture(scope="module")
def whisper_dir():
    return assemble(WHISPER_BASE, default_cache_dir())


@pytest.fixture(scope="module")
def question():
    samples, rate = speak(QUESTION, voice=PIPER)
    return resample(samples, rate, 16000)


@pytest.fixture
def a_gpu_counted(monkeypatch):
    """CTranslate2 counts one CUDA GPU, as on a machine with an NVIDIA driver."""
    monkeypatch.setattr(ctranslate2, "get_cuda_device_count", lambda: 1)
    monkeypatch.setattr(
        ctranslate2,
        "get_supported_compute_types",
        lambda device, index=0: {"float16", "int8_float16", "float32", "int8"},
    )


@pytest.fixture
def cublas_missing(monkeypatch):
    """faster-whisper's model fails on CUDA as CTranslate2 does without cuBLAS 12."""
    real = faster_whisper.WhisperModel

    class NoCublas(real):
        def __init__(self, *args, device="auto", **kwargs):
            if device == "cuda":
                raise RuntimeError(NO_CUBLAS)
            super().__init__(*args, device=device, **kwargs)

    monkeypatch.setattr(faster_whisper, "WhisperModel", NoCublas)


def test_auto_falls_back_to_the_cpu_and_says_why(
    whisper_dir, question, a_gpu_counted, cublas_missing
):
    heard = recognizer(whisper_dir, "auto", "en", 1, device="auto")
    placement = heard.placement
    assert placement.device == "cpu" and placement.compute_type == "int8"
    assert "libcublas.so.12" in placement.fallback
    assert "cuda-recognizer" in placement.fallback  # the command that fixes it
    assert "not on the GPU" in heard.where()
    assert "japan" in on_a_thread(heard.transcribe, question).lower()


def test_auto_falls_back_when_ctranslate2_itself_cannot_use_the_gpu(
    whisper_dir, question, a_gpu_counted
):
    """The real CTranslate2 asked for CUDA on this machine (no GPU, no driver) fails in its
    own way; the recogniser still runs, on the CPU."""
    heard = recognizer(whisper_dir, "auto", "en", 1, device="auto")
    assert heard.placement.device == "cpu"
    assert "CTranslate2 cannot use the GPU" in heard.placement.fallback
    assert "japan" in on_a_thread(heard.transcribe, question).lower()


def test_cuda_asked_for_without_its_libraries_names_the_library_and_the_fix(
    whisper_dir, a_gpu_counted, cublas_missing
):
    with pytest.raises(RecognizerDeviceError) as info:
        recognizer(whisper_dir, "auto", "en", 1, device="cuda")
    message = str(info.value)
    assert "libcublas.so.12" in message and "pip install" in message
    assert "cuda-recognizer" in message and "recognizer_device: cpu" in message


def test_cuda_asked_for_with_no_gpu_is_a_clear_error(whisper_dir):
    assert ctranslate2.get_cuda_device_count() == 0  # this machine: no GPU
    with pytest.raises(RecognizerDeviceError, match="finds no CUDA GPU"):
        recognizer(whisper_dir, "auto", "en", 1, device="cuda")


def test_no_gpu_counted_means_the_cpu_without_a_note(whisper_dir):
    heard = recognizer(whisper_dir, "auto", "en", 1, device="auto")
    assert heard.placement.device == "cpu"
    assert heard.placement.fallback is None


def test_a_gpu_beyond_those_counted_is_the_cpu_with_the_reason_or_an_error(
    whisper_dir, a_gpu_counted
):
    """``model.device: cuda:1`` on a one-GPU machine (CTranslate2 counts one)."""
    heard = recognizer(whisper_dir, "auto", "en", 1, device="auto", gpu_index=1)
    assert heard.placement.device == "cpu"
    assert "names GPU 1, but CTranslate2 finds 1" in heard.placement.fallback
    with pytest.raises(RecognizerDeviceError, match="set model.device to cuda:0"):
        recognizer(whisper_dir, "auto", "en", 1, device="cuda", gpu_index=1)


def test_the_gpu_named_is_the_one_whisper_is_opened_on(
    whisper_dir, monkeypatch, a_gpu_counted
):
    asked = []
    real = faster_whisper.WhisperModel

    class Recorded(real):
        def __init__(self, *args, device="auto", device_index=0, **kwargs):
            asked.append((device, device_index))
            if device == "cuda":
                raise RuntimeError(NO_CUBLAS)
            super().__init__(*args, device=device, **kwargs)

    monkeypatch.setattr(faster_whisper, "WhisperModel", Recorded)
    monkeypatch.setattr(ctranslate2, "get_cuda_device_count", lambda: 2)
    settings = validate_config({"embedded": {"recognizer_device": "auto"}}).embedded
    on_a_thread(
        Recognizer.from_settings, whisper_dir, settings, 1, model_device="cuda:1"
    )
    assert asked == [("cuda", 1), ("cpu", 0)]


def test_the_choice_follows_the_settings():
    assert wanted_device("auto", "cpu") == "cpu"
    assert wanted_device("auto", "cuda") == "auto"
    assert wanted_device("cuda", "cpu") == "cuda"
    assert wanted_device("cpu", "cuda") == "cpu"
    assert [gpu_index(d) for d in ("cuda:1", "cuda", "auto", "cpu")] == [1, 0, 0, 0]
    assert compute_type_for("auto", "cpu", set()) == "int8"
    assert compute_type_for("auto", "cuda", {"float16", "float32"}) == "float16"
    # a card that refuses what we prefer gets what it has
    assert compute_type_for("auto", "cuda", {"float32"}) == "float32"
    assert compute_type_for("int8_float32", "cuda", {"float16"}) == "int8_float32"
    assert missing_library(RuntimeError(NO_CUBLAS)) == "libcublas.so.12"
    assert missing_library(RuntimeError("out of memory")) is None


def test_ptt_ask_with_the_recogniser_on_cuda_and_no_gpu_says_so(tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text("embedded:\n  recognizer_device: cuda\n")
    done = subprocess.run(
        [sys.executable, "-m", "core.cli", str(paths.SAMPLE_QUESTION)]
        + ["--config", str(config)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=paths.ROOT,
        check=False,
    )
    assert done.returncode == 3, done.stderr
    assert "recognizer_device is cuda" in done.stderr
    assert "finds no CUDA GPU" in done.stderr and "Traceback" not in done.stderr
