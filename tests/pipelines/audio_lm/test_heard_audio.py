"""The audio an audio model hears is the caller's clip: for every accepted input form, the
``input_features`` that reach ``generate`` equal what the stock feature extractor makes from
a reference clip converted and resampled here, independently of the engine (numpy; the
engine uses soxr). Each fault a broken audio path could have, injected, is caught.

The tiny models answer the same whatever they hear, so only the inputs can show this.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import numpy as np
import pytest
import torch
from transformers import AutoProcessor

from core import audio
from core.pipelines.audio_lm.pipeline import AudioLMPipeline
from testkit.model_calls import recorded_generate
from tests.conftest import ARCHS, make_engine

RATE = 16000  # the tiny models' feature extractor rate
SECONDS = 1.5
# Features are compared above a floor 60 dB under the clip's loudest bin (1.5 units of the
# log-mel scale, which spans 2): below it lies only numerical noise, such as the 16-bit
# quantisation Voxtral's processor applies when it reads a file or builds a transcription
# request (it re-writes the clip as 16-bit WAV), which alone reaches 0.068 in the empty
# bins above 4 kHz of an 8 kHz clip. Measured with the floor: every case and route <= 0.008
# (soxr against numpy's FFT resampling at 8 kHz: 0.001; 16-bit re-writes: 0.008); the faults
# below 0.15 (the clip at twice its level) and 1.37-1.5 (a wrong rate, a dropped channel,
# silence, a reversed clip, the last 0.1 s cut off).
FLOOR = 1.5
TOLERANCE = 0.03


def _fade(t: np.ndarray) -> np.ndarray:
    # 50 ms fades: the clip's ends are smooth, so FFT resampling has no wrap-around edge.
    return np.minimum(1.0, np.minimum(t, SECONDS - t) / 0.05)


def probe(rate: int) -> np.ndarray:
    """A rising chirp (150 Hz -> 3 kHz, under the Nyquist frequency of every rate tested)
    with a tremolo: its spectrum moves with time, so a reversed, cut, re-timed or re-pitched
    clip looks different."""
    t = np.arange(round(SECONDS * rate)) / rate
    phase = 2 * np.pi * (150 * t + (3000 - 150) * t**2 / (2 * SECONDS))
    return 0.3 * _fade(t) * (0.7 + 0.3 * np.sin(2 * np.pi * 3 * t)) * np.sin(phase)


def hum(rate: int) -> np.ndarray:
    """A steady 1 kHz tone: the second channel, so that dropping one channel shows."""
    t = np.arange(round(SECONDS * rate)) / rate
    return 0.3 * _fade(t) * np.sin(2 * np.pi * 1000 * t)


def fft_resample(samples: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    """Band-limited resampling by zero-padding or cutting the spectrum (numpy only)."""
    n = len(samples)
    m = round(n * to_rate / from_rate)
    spectrum = np.fft.rfft(samples)
    out = np.zeros(m // 2 + 1, complex)
    keep = min(len(spectrum), len(out))
    out[:keep] = spectrum[:keep]
    return np.fft.irfft(out, m) * (m / n)


def pcm(samples: np.ndarray, dtype: type) -> np.ndarray:
    info = np.iinfo(dtype)
    return np.round(samples * info.max).astype(dtype)


def from_pcm(samples: np.ndarray) -> np.ndarray:
    return samples.astype(np.float64) / (float(np.iinfo(samples.dtype).max) + 1)


def case(
    name: str, rate: int, make: Callable[[np.ndarray, np.ndarray], tuple]
) -> tuple:
    """A test case: the rate, the caller's audio in some form, and its reference (mono
    float64 at that rate, converted here from the very values the caller passes)."""
    clip, reference = make(probe(rate), hum(rate))
    return pytest.param(rate, clip, reference, id=name)


def _bf16(x, _):
    tensor = torch.from_numpy(x).to(torch.bfloat16)
    return tensor, tensor.to(torch.float64).numpy()


def _float16(x, _):
    half = x.astype(np.float16)
    return half, half.astype(np.float64)


def _stereo_int16_last(x, o):
    left, right = pcm(x, np.int16), pcm(o, np.int16)
    return np.stack([left, right], axis=1), (from_pcm(left) + from_pcm(right)) / 2


def _uint8(x, _):
    pcm8 = np.round((x + 1) * 127.5).astype(np.uint8)
    return pcm8, (pcm8.astype(np.float64) - 128) / 128


CASES = [
    case("float32", RATE, lambda x, o: (x.astype(np.float32), x)),
    case("float64", RATE, lambda x, o: (x, x)),
    case("float16", RATE, _float16),
    case("int16", RATE, lambda x, o: (pcm(x, np.int16), from_pcm(pcm(x, np.int16)))),
    case("int32", RATE, lambda x, o: (pcm(x, np.int32), from_pcm(pcm(x, np.int32)))),
    case("uint8", RATE, _uint8),
    case("bf16-tensor", RATE, _bf16),
    case(
        "batched-tensor",
        RATE,
        lambda x, o: (torch.from_numpy(x.astype(np.float32))[None, None, :], x),
    ),
    case(
        "stereo-channels-first",
        RATE,
        lambda x, o: (np.stack([x, o]).astype(np.float32), (x + o) / 2),
    ),
    case("stereo-channels-last-int16", RATE, _stereo_int16_last),
    *(
        case(f"{rate // 1000}k", rate, lambda x, o: (x.astype(np.float32), x))
        for rate in (8000, 22050, 44100, 48000)
    ),
    case("44k-stereo-channels-last-int16", 44100, _stereo_int16_last),
]
# The other routes a clip can take to the processor (hand-off, mode); every case goes the
# default way (memory, conversation), and these cases every other way too.
ROUTES = [
    ("file", "conversation"),
    ("memory", "transcribe"),
    ("file", "transcribe"),
]
ROUTED = ("8k", "bf16-tensor", "44k-stereo-channels-last-int16")


@pytest.fixture(scope="module")
def engines(tiny_models):
    """An engine per architecture and hand-off; one new token is enough to see the inputs."""
    built = {
        (arch, handoff): asyncio.run(
            make_engine(
                tiny_models[arch],
                audio={"handoff": handoff},
                chunked_response={"generation": {"max_new_tokens": 1}},
            )
        )
        for arch in ARCHS
        for handoff in ("memory", "file")
    }
    yield built
    for engine in built.values():
        asyncio.run(engine.close())


@pytest.fixture(scope="module")
def extractors(tiny_models):
    """The stock feature extractor of each model folder, loaded apart from the engine's."""
    return {
        arch: AutoProcessor.from_pretrained(tiny_models[arch]).feature_extractor
        for arch in ARCHS
    }


async def heard_features(engine, clip, rate: int, mode: str) -> torch.Tensor:
    """The ``input_features`` the engine hands ``generate`` for one call."""
    with recorded_generate(engine.pipeline.model) as calls:
        result = await engine.process_realtime_chunk(clip, 1, mode, sample_rate=rate)
    assert result["success"], result
    (call,) = calls
    return call.inputs["input_features"].float()


def assert_heard(features: torch.Tensor, reference: np.ndarray, rate: int, extractor):
    """The features are those of ``reference`` (mono, float64, at ``rate``) at 16 kHz."""
    clip = fft_resample(reference, rate, RATE) if rate != RATE else reference
    expected = extractor(
        clip.astype(np.float32), sampling_rate=RATE, return_tensors="pt"
    )["input_features"]
    assert features.shape == expected.shape, "the model heard another clip (shape)"
    floor = float(expected.max()) - FLOOR
    error = float((features.clamp(min=floor) - expected.clamp(min=floor)).abs().max())
    assert error <= TOLERANCE, f"the model heard another clip (max error {error:.3f})"


@pytest.mark.parametrize("arch_name", ARCHS)
@pytest.mark.parametrize("rate, clip, reference", CASES)
async def test_the_model_hears_the_callers_clip(
    engines, extractors, arch_name, rate, clip, reference
):
    features = await heard_features(
        engines[arch_name, "memory"], clip, rate, "conversation"
    )
    assert_heard(features, reference, rate, extractors[arch_name])


@pytest.mark.parametrize("arch_name", ARCHS)
@pytest.mark.parametrize("handoff, mode", ROUTES)
@pytest.mark.parametrize("rate, clip, reference", [c for c in CASES if c.id in ROUTED])
async def test_every_route_hears_the_callers_clip(
    engines, extractors, arch_name, handoff, mode, rate, clip, reference
):
    features = await heard_features(engines[arch_name, handoff], clip, rate, mode)
    assert_heard(features, reference, rate, extractors[arch_name])


# -- each fault, injected, is caught ----------------------------------------------------------


def _at_the_processor(damage: Callable[[np.ndarray], np.ndarray]):
    """A fault between the speech gate and the processor: the pipeline's clip is damaged."""
    original = AudioLMPipeline._clip

    def faulty(self, samples, files):
        return original(self, damage(samples), files)

    return AudioLMPipeline, "_clip", faulty


def _first_channel(samples: np.ndarray) -> np.ndarray:
    squeezed = np.squeeze(samples)
    return squeezed if squeezed.ndim == 1 else squeezed[0]


FAULTS = {
    # fault: (what is patched, the case that shows it)
    "not resampled": ((audio, "resample", lambda s, f, t: s), "8k"),
    "resampled from the wrong rate": (
        (audio, "resample", lambda s, f, t: audio.soxr.resample(s, 48000, t)),
        "44k",
    ),
    "one channel dropped": (
        (audio, "_mix_down", _first_channel),
        "stereo-channels-first",
    ),
    "channels summed": (
        (audio, "_mix_down", lambda s: s.sum(axis=0)),
        "stereo-channels-first",
    ),
    "silence": (_at_the_processor(np.zeros_like), "float32"),
    "last 0.1 s cut off": (_at_the_processor(lambda s: s[: -RATE // 10]), "float32"),
    "reversed": (_at_the_processor(lambda s: s[::-1].copy()), "float32"),
}


@pytest.mark.parametrize("arch_name", ARCHS)
@pytest.mark.parametrize("fault", FAULTS)
async def test_an_injected_fault_is_caught(
    engines, extractors, monkeypatch, arch_name, fault
):
    (target, name, replacement), case_id = FAULTS[fault]
    ((rate, clip, reference),) = [c.values for c in CASES if c.id == case_id]
    monkeypatch.setattr(target, name, replacement)
    features = await heard_features(
        engines[arch_name, "memory"], clip, rate, "conversation"
    )
    with pytest.raises(AssertionError, match="heard another clip"):
        assert_heard(features, reference, rate, extractors[arch_name])
