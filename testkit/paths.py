"""Where the checkout's files are, for tests and benchmarks at any depth."""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: the committed sample question (espeak-ng, "What is the capital of France? ...")
SAMPLE_QUESTION = ROOT / "resources" / "sample-question.wav"
