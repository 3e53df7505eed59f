"""Security: what a clip, a model answer, a config file or a model folder can make the app do.

Checked elsewhere too: YAML tags (test_config), checksums of the packaged weights
(test_assets), the window showing answers as plain text (desktop/test_untrusted_text).
"""

from __future__ import annotations

import ast
import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import soundfile as sf

from core.pipelines.audio_lm.handoff import TEMP_PREFIX, temporary_wav
from testkit import paths
from testkit.netguard import MARK
from testkit.tiny_model import TINY_SENTENCE
from tests.conftest import HOSTILE_ANSWER, make_engine, speech_like

ROOT = paths.ROOT
PRODUCT = [ROOT / "core", ROOT / "desktop_app"]


def ptt_ask(*args, env: dict | None = None, cwd=None):
    """``ptt-ask`` in a fresh process, with network access refused and reported, and
    without HF_HUB_OFFLINE: the app itself must not reach for the network."""
    base = {k: v for k, v in os.environ.items() if k != "HF_HUB_OFFLINE"}
    return subprocess.run(
        [sys.executable, "-m", "testkit.netguard", "core.cli", *map(str, args)],
        check=False,
        capture_output=True,
        text=True,
        timeout=300,
        cwd=cwd or ROOT,
        env={**base, "PYTHONPATH": str(ROOT), **(env or {})},
    )


@pytest.fixture
def clip(tmp_path) -> Path:
    path = tmp_path / "question.wav"
    sf.write(path, speech_like(), 16000)
    return path


# -- network ---------------------------------------------------------------------------------


def test_the_guard_sees_a_connection():
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            (
                "import socket, testkit.netguard as g; g.install();"
                "socket.create_connection(('127.0.0.1', 9), timeout=1)"
            ),
        ],
        check=False,
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert result.returncode != 0 and MARK in result.stderr


def test_a_local_model_needs_no_network(tiny_models, clip):
    result = ptt_ask(clip, "--model", tiny_models["qwen2-audio"])
    assert result.returncode == 0, result.stderr
    assert result.stdout == TINY_SENTENCE + "\n"
    assert MARK not in result.stderr


def test_only_a_model_that_needs_a_download_reaches_out(clip, tmp_path):
    """A hub model that isn't cached is the one case that goes to the network; refused,
    it is a clear load error naming the way out."""
    result = ptt_ask(
        clip, "--model", "voxtral-mini", env={"HF_HOME": str(tmp_path / "hf")}
    )
    assert MARK in result.stderr  # it did try: this is the case that needs a download
    assert result.returncode == 3, result.stderr
    assert "mistralai/Voxtral-Mini-3B-2507 is not in the Hugging Face cache" in (
        result.stderr
    )
    assert "the hub could not be reached" in result.stderr


# -- remote code -----------------------------------------------------------------------------


@pytest.fixture
def folder_with_code(tiny_models, tmp_path) -> tuple[Path, Path]:
    """A model folder that ships Python: importing it leaves a marker file."""
    folder = tmp_path / "model"
    shutil.copytree(tiny_models["qwen2-audio"], folder)
    marker = tmp_path / "code-ran"
    (folder / "evil.py").write_text(
        "import pathlib\n"
        f"pathlib.Path({str(marker)!r}).write_text('ran')\n"
        "from transformers import Qwen2AudioConfig\n"
        "class EvilConfig(Qwen2AudioConfig):\n"
        "    pass\n"
    )
    config = json.loads((folder / "config.json").read_text())
    config["auto_map"] = {"AutoConfig": "evil.EvilConfig"}
    (folder / "config.json").write_text(json.dumps(config))
    return folder, marker


@pytest.mark.parametrize("trust", [False, True])
def test_model_folder_code_runs_only_when_the_config_asks(
    folder_with_code, clip, tmp_path, trust
):
    folder, marker = folder_with_code
    config = tmp_path / "config.yaml"
    config.write_text(
        f"model:\n  id: {folder}\n  trust_remote_code: {str(trust).lower()}\n"
    )
    result = ptt_ask(
        clip,
        "--config",
        config,
        env={"HF_MODULES_CACHE": str(tmp_path / "modules")},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == TINY_SENTENCE + "\n"
    assert marker.exists() is trust
    said = "trust_remote_code is on" in result.stderr
    assert said is trust  # when it runs, the log says so without -v


# -- what a clip or an answer can do ---------------------------------------------------------


def test_an_answer_is_printed_as_text_and_nothing_more(hostile_model, clip, tmp_path):
    work = tmp_path / "cwd"
    work.mkdir()
    result = ptt_ask(clip, "--model", hostile_model, cwd=work)
    assert result.returncode == 0, result.stderr
    assert result.stdout == HOSTILE_ANSWER + "\n"
    assert list(work.iterdir()) == []  # nothing named by the answer was created
    result = ptt_ask(clip, "--model", hostile_model, "--json", cwd=work)
    items = [json.loads(line) for line in result.stdout.splitlines()]
    assert "".join(i["text"] for i in items) == HOSTILE_ANSWER


async def test_the_caller_chunk_id_never_becomes_a_path(tiny_models, private_tmp):
    engine = await make_engine(tiny_models["voxtral"], audio={"handoff": "file"})
    paths: list[Path] = []
    original = engine.pipeline.backend.audio_item

    def spy(clip):
        paths.append(clip.wav_path)
        return original(clip)

    engine.pipeline.backend.audio_item = spy
    evil = f"../../{private_tmp.name}-escape/owned"
    result = await engine.process_realtime_chunk(speech_like(), evil)
    await engine.close()
    assert result["success"] and result["chunk_id"] == evil
    (path,) = paths
    assert path.name == "clip.wav" and path.parent.name.startswith(TEMP_PREFIX)
    assert path.parent.parent == private_tmp
    assert not (private_tmp.parent / f"{private_tmp.name}-escape").exists()
    assert list(private_tmp.iterdir()) == []


def test_temp_clips_are_private_whatever_the_umask(private_tmp):
    old = os.umask(0)
    try:
        with temporary_wav(speech_like(), 16000) as path:
            assert stat.S_IMODE(path.stat().st_mode) == 0o600
            assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    finally:
        os.umask(old)
    assert list(private_tmp.iterdir()) == []


# -- nothing is executed ---------------------------------------------------------------------

FORBIDDEN_CALLS = {
    "eval",
    "exec",
    "compile",
    "__import__",
    "os.system",
    "os.popen",
    "os.startfile",
    "pickle.load",
    "pickle.loads",
    "marshal.loads",
    "yaml.load",
    "yaml.unsafe_load",
    "yaml.full_load",
    "importlib.import_module",
    "runpy.run_path",
    "runpy.run_module",
}
FORBIDDEN_MODULES = {"subprocess", "pickle", "marshal", "shelve", "runpy"}


def dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{dotted(node.value)}.{node.attr}"
    return ""


def findings(source: Path) -> list[str]:
    tree = ast.parse(source.read_text(), filename=str(source))
    found = []
    for node in ast.walk(tree):
        where = f"{source.name}:{getattr(node, 'lineno', 0)}"
        if isinstance(node, ast.Call):
            name = dotted(node.func)
            if name in FORBIDDEN_CALLS or name.startswith(("os.exec", "os.spawn")):
                found.append(f"{where} calls {name}")
            if name == "torch.load" and not any(
                k.arg == "weights_only"
                and isinstance(k.value, ast.Constant)
                and k.value.value is True
                for k in node.keywords
            ):
                found.append(f"{where} torch.load without weights_only=True")
            if any(
                k.arg == "shell"
                and not (isinstance(k.value, ast.Constant) and k.value.value is False)
                for k in node.keywords
            ):
                found.append(f"{where} passes shell=")
        elif isinstance(node, ast.Import | ast.ImportFrom):
            names = (
                [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else [a.name for a in node.names]
            )
            for name in names:
                if name.split(".")[0] in FORBIDDEN_MODULES:
                    found.append(f"{where} imports {name}")
    return found


# The one process the product starts: piper's voice, this interpreter running our own module
# with fixed arguments (no shell, nothing from a clip or an answer), talking over a private
# socket pair to its parent only.
VOICE_PROCESS = ROOT / "core" / "speech" / "voice_process.py"


def voice_process_commands() -> list[list[str]]:
    tree = ast.parse(VOICE_PROCESS.read_text())
    commands = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and dotted(node.func) == "subprocess.Popen":
            (argv,) = node.args
            commands.append([ast.unparse(element) for element in argv.elts])
    return commands


# Dictation's typing tools (wtype, ydotool, wl-clipboard): a program found on PATH by its
# fixed name, the dictated text an argument after "--" or the program's input, no shell.
TYPING_TOOLS = [
    ROOT / "desktop_app" / "dictation" / "typists.py",
    ROOT / "desktop_app" / "dictation" / "dictation.py",
]


def typing_tool_commands() -> list[list[str]]:
    commands = []
    for source in TYPING_TOOLS:
        for node in ast.walk(ast.parse(source.read_text())):
            if isinstance(node, ast.Call) and dotted(node.func) in (
                "subprocess.run",
                "_run",
            ):
                argv = node.args[0]
                commands.append(
                    [ast.unparse(e) for e in argv.elts]
                    if isinstance(argv, ast.List)
                    else [ast.unparse(argv)]
                )
    return commands


def test_the_product_code_runs_no_code_and_no_commands():
    """No eval/exec, no pickles, no shells, no dynamic imports anywhere in core/ or
    desktop_app/, and no subprocess but the voice's own and the typing tools': nothing from
    a clip, an answer or a file can be run."""
    sources = [path for folder in PRODUCT for path in folder.rglob("*.py")]
    assert len(sources) > 20
    problems = [
        problem
        for path in sources
        for problem in findings(path)
        if not (
            path in (VOICE_PROCESS, *TYPING_TOOLS)
            and problem.endswith("imports subprocess")
        )
    ]
    assert problems == []
    # each typing tool by the path `which` gave for its fixed name; text after "--"
    assert sorted(map(tuple, typing_tool_commands())) == sorted(
        [
            ("command",),  # typists._run's own: the calls below
            ("self.path", "*self.SETTLE", "'--'", "text"),
            ("self.path", "*self.SETTLE", "*['-k', 'BackSpace'] * count"),
            ("self.path", "*self.SETTLE", "*held", "'-k'", "key", "*released"),
            ("self.path", "'type'", "'--'", "text"),
            ("self.path", "'key'", "*[f'{code}:1', f'{code}:0'] * count"),
            ("self.path", "'key'", "*events"),
            ("self.copy", "*args"),  # the text is its input
            ("self.paste", "'--no-newline'"),
        ]
    )
    # the voice process: the interpreter, our module, then its fd, voice file and niceness
    assert voice_process_commands() == [
        [
            "*(sys.executable, '-m', 'core.speech.voice_process')",
            "*(str(theirs.fileno()), str(self.onnx), str(self.nice))",
        ]
    ]


def test_the_audit_would_see_them(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text(
        "import subprocess\nimport torch\n"
        "eval(answer)\nsubprocess.run(cmd, shell=True)\ntorch.load(p)\n"
        "model.eval()\ndialog.exec()\ntorch.load(p, weights_only=True)\n"
    )
    problems = findings(sample)
    assert problems == [
        "sample.py:1 imports subprocess",
        "sample.py:3 calls eval",
        "sample.py:4 passes shell=",
        "sample.py:5 torch.load without weights_only=True",
    ], problems
