"""Spoken test questions: synthesised with espeak-ng, scored by keyword and word error rate."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import jiwer
import numpy as np
import soundfile as sf
import yaml

QUESTIONS_FILE = Path(__file__).resolve().parent / "spoken_questions.yaml"


@dataclass(frozen=True)
class Question:
    question: str
    keywords: tuple[str, ...]

    def answered_by(self, answer: str) -> bool:
        words = set(re.findall(r"[a-z0-9]+(?:-[a-z0-9]+)?", answer.lower()))
        return any(k.lower() in words for k in self.keywords)


def load_questions(path: Path = QUESTIONS_FILE) -> list[Question]:
    return [
        Question(q["question"], tuple(q["keywords"]))
        for q in yaml.safe_load(path.read_text())
    ]


def speak(text: str, words_per_minute: int = 140) -> tuple[np.ndarray, int]:
    """The sentence as espeak-ng says it (22.05 kHz mono float32)."""
    espeak = shutil.which("espeak-ng")
    if espeak is None:
        raise RuntimeError(
            "espeak-ng is not installed (Debian: apt-get install espeak-ng)"
        )
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "q.wav"
        subprocess.run(
            [espeak, "-v", "en-us", "-s", str(words_per_minute), "-w", str(path), text],
            check=True,
            capture_output=True,
        )
        samples, rate = sf.read(path, dtype="float32")
    return samples, rate


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
