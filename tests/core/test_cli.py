"""``ptt-ask``: the headless front, run as a user runs it (a subprocess)."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from testkit.tiny_model import TINY_SENTENCE
from testkit.voices import PIPER, speak
from tests.conftest import speech_like


def ptt_ask(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "core.cli", *map(str, args)],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
    )


def test_plain_output_streams_the_answer(tiny_models, tmp_path):
    clip = tmp_path / "question.wav"
    sf.write(clip, speech_like(rate=22050), 22050, subtype="PCM_16")
    result = ptt_ask(clip, "--model", tiny_models["qwen2-audio"], "--stats")
    assert result.returncode == 0, result.stderr
    assert result.stdout == TINY_SENTENCE + "\n"
    assert "first chunk" in result.stderr and "tok/s" in result.stderr


def test_json_output_has_every_field_per_chunk(tiny_models, tmp_path):
    clip = tmp_path / "stereo.flac"
    sf.write(clip, np.stack([speech_like(), speech_like()], axis=1), 16000)
    result = ptt_ask(
        clip, "--model", tiny_models["voxtral"], "--json", "--mode", "transcribe"
    )
    assert result.returncode == 0, result.stderr
    items = [json.loads(line) for line in result.stdout.splitlines()]
    assert [i["chunk_index"] for i in items] == list(range(len(items)))
    assert items[-1]["is_final"] and items[-1]["mode"] == "transcribe"
    assert " ".join(i["text"] for i in items if i["text"]) == TINY_SENTENCE
    assert all(i["chunk_id"] == "stereo.flac" for i in items)


def test_silence_exits_1_with_the_error_code(tiny_models, tmp_path):
    clip = tmp_path / "silence.wav"
    sf.write(clip, np.zeros(16000, np.float32), 16000)
    result = ptt_ask(clip, "--model", tiny_models["qwen2-audio"])
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.count("no_speech") == 1, (
        result.stderr
    )  # said once, not logged too


def test_bad_files_exit_2_with_a_clear_message(tmp_path):
    missing = ptt_ask(tmp_path / "nope.wav")
    assert missing.returncode == 2 and "no such file" in missing.stderr
    text = tmp_path / "notes.wav"
    text.write_text("this is not audio")
    not_audio = ptt_ask(text)
    assert not_audio.returncode == 2 and "not a readable audio file" in not_audio.stderr
    assert "accepted: WAV" in not_audio.stderr


def test_bad_config_and_unloadable_model(tmp_path):
    clip = tmp_path / "q.wav"
    sf.write(clip, speech_like(), 16000)
    config = tmp_path / "bad.yaml"
    config.write_text("chunked_response: {chunk_size_words: 0}\n")
    bad = ptt_ask(clip, "--config", config)
    assert bad.returncode == 2 and "chunk_size_words" in bad.stderr
    unloadable = ptt_ask(clip, "--model", tmp_path)
    assert (
        unloadable.returncode == 3 and f"could not load {tmp_path}" in unloadable.stderr
    )


def test_truncated_and_unsupported_files(tmp_path):
    whole = tmp_path / "whole.wav"
    sf.write(whole, speech_like(), 16000, subtype="PCM_16")
    truncated = tmp_path / "cut.wav"
    truncated.write_bytes(whole.read_bytes()[:20000])
    result = ptt_ask(truncated)
    assert result.returncode == 2 and "truncated" in result.stderr
    header_only = tmp_path / "header.wav"
    header_only.write_bytes(whole.read_bytes()[:30])
    result = ptt_ask(header_only)
    assert result.returncode == 2 and "not a readable audio file" in result.stderr
    fake_mp3 = tmp_path / "song.mp3"
    fake_mp3.write_bytes(b"ID3\x03\x00 not really an mp3")
    result = ptt_ask(fake_mp3)
    assert result.returncode == 2 and "not a readable audio file" in result.stderr
    folder = ptt_ask(tmp_path)
    assert folder.returncode == 2 and "is a folder" in folder.stderr


@pytest.mark.parametrize(
    ("name", "said"),
    [
        ("answer.mp3", "is written as WAV or FLAC; name the file with .wav or .flac"),
        ("answer", "is written as WAV or FLAC"),
        ("missing/answer.wav", "does not exist"),
        (".", "is a folder"),
    ],
)
def test_a_speak_to_file_that_cannot_be_written_exits_2_before_loading(
    tmp_path, name, said
):
    clip = tmp_path / "q.wav"
    sf.write(clip, speech_like(), 16000)
    result = ptt_ask(clip, "--speak-to", tmp_path / name)
    assert result.returncode == 2 and said in result.stderr, result.stderr
    assert "Loading" not in result.stderr  # said before the model loads
    assert "Traceback" not in result.stderr


def test_a_mistyped_model_exits_2_naming_the_choices(tmp_path):
    clip = tmp_path / "q.wav"
    sf.write(clip, speech_like(), 16000)
    result = ptt_ask(clip, "--model", "voxtral-mni")
    assert result.returncode == 2
    assert "'voxtral-mni' names no model" in result.stderr
    assert "voxtral-mini" in result.stderr and "Loading" not in result.stderr


def test_a_failed_answer_leaves_no_spoken_file(tiny_models, tmp_path):
    """An answer that ends in an error writes nothing, and a file already there under the
    name is left as it was (the speech goes to a partial file, renamed when complete)."""
    clip = tmp_path / "silence.wav"
    sf.write(clip, np.zeros(16000, np.float32), 16000)
    out = tmp_path / "spoken.wav"
    out.write_bytes(b"an earlier answer")
    result = ptt_ask(clip, "--model", tiny_models["qwen2-audio"], "--speak-to", out)
    assert result.returncode == 1 and "no_speech" in result.stderr
    assert out.read_bytes() == b"an earlier answer"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["silence.wav", "spoken.wav"]


def test_a_server_url_that_does_not_answer_says_to_check_that_url(tmp_path):
    # a clearly spoken question: a doubtful transcript is asked about, never sent
    clip = tmp_path / "q.wav"
    sf.write(clip, *speak("What is the capital of France?", voice=PIPER))
    result = ptt_ask(clip, "--model", "http://127.0.0.1:9/v1")
    said = result.stderr
    assert result.returncode in (1, 3), said
    assert "Nothing answered at http://127.0.0.1:9/v1" in said
    assert "check the URL given as the model" in said and "servers.http" not in said


def test_an_answer_cut_at_the_token_limit_says_so(tiny_models, tmp_path):
    clip = tmp_path / "q.wav"
    sf.write(clip, speech_like(), 16000)
    config = tmp_path / "short.yaml"
    config.write_text("chunked_response:\n  generation:\n    max_new_tokens: 3\n")
    model = tiny_models["qwen2-audio"]
    cut = ptt_ask(clip, "--model", model, "--config", config)
    assert cut.returncode == 0, cut.stderr
    assert len(cut.stdout.split()) < len(TINY_SENTENCE.split())
    assert "the answer was cut at 3 tokens (chunked_response" in cut.stderr
    whole = ptt_ask(clip, "--model", model)
    assert whole.stdout == TINY_SENTENCE + "\n" and "was cut" not in whole.stderr
