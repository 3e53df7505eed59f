"""Without PyTorch and transformers (a machine with no NVIDIA GPU, where set-up leaves them
out): the embedded default answers, and an audio model says how to add what it runs in.
The two are made unimportable at the import system, in a ptt-ask of its own."""

from __future__ import annotations

import subprocess
import sys

from testkit import paths

WITHOUT_TORCH = """
import sys

class NotInstalled:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("torch", "transformers"):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, NotInstalled())
from core.cli import main
sys.exit(main(sys.argv[1:]))
"""


def ptt_ask(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", WITHOUT_TORCH, str(paths.SAMPLE_QUESTION), *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=paths.ROOT,
        check=False,
    )


def test_the_embedded_default_answers_without_torch():
    done = ptt_ask()
    assert done.returncode == 0, done.stderr
    assert "paris" in done.stdout.lower()


def test_an_audio_model_without_torch_says_how_to_add_it(tiny_models):
    done = ptt_ask("--model", str(tiny_models["voxtral"]))
    assert done.returncode == 3, done.stderr
    assert "runs in PyTorch and transformers" in done.stderr
    assert "scripts/setup --audio-models" in done.stderr
    assert "Traceback" not in done.stderr
