"""Real human speech with transcripts, offline: Debian's pocketsphinx-testdata.

    .venv/bin/python -m testkit.real_speech   # list the clips, their lengths and texts

The package (BSD-2, 1.8 MB; ``apt-get install pocketsphinx-testdata``) holds, under
/usr/share/pocketsphinx/test/data/:

* ``librivox/``: five clips of *Sense and Sensibility* read by a LibriVox volunteer (read
  speech, 3-7 s), transcripts in ``librivox/transcription``;
* ``goforward.raw``: "go forward ten meters" (16 kHz s16le, no header);
* ``cards/``: five short clips of playing cards ("ten of clubs", "five five", ...), transcripts
  in ``cards/cards.transcription``.

Every clip is 16 kHz mono and under 30 s (one Whisper window); :func:`load_clips` checks both.
Transcripts are lower case without punctuation and spell numbers as words, while Whisper writes
"10 of clubs" and "Mr.": score with :func:`word_error_rate`, which normalises both sides
(:func:`testkit.voices.normalise`: Whisper's own English normaliser, numbers to digits).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from testkit.voices import normalise, normalised_word_error_rate

DATA_DIR = Path("/usr/share/pocketsphinx/test/data")
SAMPLE_RATE = 16000
MAX_SECONDS = 30.0
INSTALL_HINT = "apt-get install pocketsphinx-testdata"

# goforward.raw has no transcript file of its own; its grammar (goforward.gram) and every
# decoder test in pocketsphinx expect this sentence.
GOFORWARD_TEXT = "go forward ten meters"

_TRANSCRIPT_LINE = re.compile(r"^\s*(?:<s>)?\s*(.*?)\s*(?:</s>)?\s*\((\S+)\)\s*$")


class RealSpeechMissing(RuntimeError):
    """The recordings are not installed."""


@dataclass(frozen=True)
class Clip:
    name: str  # "librivox/sense_and_sensibility_01_austen_64kb-0870", "goforward", "cards/001"
    samples: np.ndarray  # mono float32 at SAMPLE_RATE
    transcript: str  # as the package writes it: lower case, numbers as words

    @property
    def sample_rate(self) -> int:
        return SAMPLE_RATE

    @property
    def seconds(self) -> float:
        return len(self.samples) / SAMPLE_RATE


def _require(path: Path) -> Path:
    if not path.exists():
        raise RealSpeechMissing(
            f"{path} is missing: the real-speech recordings come from Debian's "
            f"pocketsphinx-testdata package ({INSTALL_HINT})"
        )
    return path


def _transcripts(path: Path) -> dict[str, str]:
    """``<s> words </s> (id)`` per line -> {id: words}."""
    out = {}
    for line in _require(path).read_text().splitlines():
        if not line.strip():
            continue
        match = _TRANSCRIPT_LINE.match(line)
        if match is None:
            raise ValueError(f"{path}: cannot read the transcript line {line!r}")
        out[match.group(2)] = " ".join(match.group(1).split())
    return out


def _read_wav(path: Path) -> np.ndarray:
    samples, rate = sf.read(_require(path), dtype="float32")
    if rate != SAMPLE_RATE or samples.ndim != 1:
        raise ValueError(f"{path}: expected 16 kHz mono, got {rate} Hz {samples.shape}")
    return samples


def _read_raw(path: Path) -> np.ndarray:
    pcm = np.fromfile(_require(path), dtype="<i2")
    return pcm.astype(np.float32) / 32768.0


def load_clips(data_dir: Path = DATA_DIR) -> list[Clip]:
    """All eleven clips, in a fixed order: librivox, goforward, cards."""
    _require(data_dir)
    clips = []
    librivox = _transcripts(data_dir / "librivox" / "transcription")
    for name in sorted(librivox):
        samples = _read_wav(data_dir / "librivox" / f"{name}.wav")
        clips.append(Clip(f"librivox/{name}", samples, librivox[name]))
    clips.append(
        Clip("goforward", _read_raw(data_dir / "goforward.raw"), GOFORWARD_TEXT)
    )
    cards = _transcripts(data_dir / "cards" / "cards.transcription")
    for name in sorted(cards):
        samples = _read_wav(data_dir / "cards" / f"{name}.wav")
        clips.append(Clip(f"cards/{name}", samples, cards[name]))
    for clip in clips:
        if not 0 < clip.seconds < MAX_SECONDS:
            raise ValueError(
                f"{clip.name} lasts {clip.seconds:.1f} s; clips must be under "
                f"{MAX_SECONDS:g} s (one recognition window)"
            )
    return clips


def word_error_rate(references: list[str], hypotheses: list[str]) -> float:
    """Corpus WER with numbers, titles and punctuation normalised on both sides."""
    return normalised_word_error_rate(references, hypotheses)


def main() -> None:
    for clip in load_clips():
        print(f"{clip.name:52} {clip.seconds:5.2f} s  {normalise(clip.transcript)}")


if __name__ == "__main__":
    main()
