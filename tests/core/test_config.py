"""Config schema and loader (core.config): defaults, documented file, errors that name the key."""

from __future__ import annotations

import textwrap

import pytest
import yaml
from pydantic import ValidationError

from core import ConfigError, load_config
from core.config import DEFAULT_CONFIG_PATH, Config, validate_config


def write(tmp_path, text):
    path = tmp_path / "config.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def test_shipped_config_yaml_is_valid_and_documents_every_key():
    assert load_config(DEFAULT_CONFIG_PATH) == Config(), (
        "config.yaml shows the schema's defaults"
    )
    text = DEFAULT_CONFIG_PATH.read_text()
    raw = yaml.safe_load(text)

    def keys(data, prefix=""):
        for key, value in data.items():
            yield prefix + key
            if isinstance(value, dict):
                yield from keys(value, prefix + key + ".")

    schema_keys = set(keys(Config().model_dump()))
    assert set(keys(raw)) == schema_keys, (
        "config.yaml must list every key of the schema"
    )
    lines = text.splitlines()
    for i, line in enumerate(lines):
        stripped = line.strip()
        if stripped and not stripped.startswith("#") and ":" in stripped:
            assert "#" in line or lines[i - 1].strip().startswith("#"), (
                f"undocumented key: {line!r}"
            )


def test_empty_file_gives_defaults(tmp_path):
    assert load_config(write(tmp_path, "")) == Config()


def test_partial_sections_keep_other_defaults(tmp_path):
    config = load_config(
        write(
            tmp_path,
            """
        chunked_response:
          chunk_size_words: 2
          generation:
            max_new_tokens: 32
    """,
        )
    )
    assert config.chunked_response.chunk_size_words == 2
    assert config.chunked_response.generation.max_new_tokens == 32
    assert (
        config.chunked_response.streamer_timeout_s
        == Config().chunked_response.streamer_timeout_s
    )
    assert config.audio == Config().audio


@pytest.mark.parametrize(
    "yaml_text, expected",
    [
        (
            "chunked_response: {chunk_size_words: 0}",
            r"chunked_response\.chunk_size_words: .*greater than or equal to 1.*got 0",
        ),
        (
            "chunked_response: {streamer_timeout_s: 0}",
            r"streamer_timeout_s: .*greater than 0.*got 0",
        ),
        (
            "chunked_response: {generation: {top_p: 1.5}}",
            r"generation\.top_p: .*less than or equal to 1.*got 1\.5",
        ),
        (
            "model: {dtype: float8}",
            r"model\.dtype: .*'auto', 'float32', 'bfloat16' or 'float16'.*got 'float8'",
        ),
        (
            "model: {device: gpu}",
            r"model\.device: must be one of auto, cpu, cuda, cuda:N.*got 'gpu'",
        ),
        (
            "model: {trust_remote_code: maybe}",
            r"model\.trust_remote_code: .*boolean.*got 'maybe'",
        ),
        (
            "audio: {silence_threshold_dbfs: 3}",
            r"audio\.silence_threshold_dbfs: .*less than 0",
        ),
        ("audio: {handoff: disk}", r"audio\.handoff: .*'auto', 'memory' or 'file'"),
        (
            "prompts: {conversation: ''}",
            r"prompts\.conversation: .*at least 1 character",
        ),
        (
            "model: {id: x, colour: blue}",
            r"model\.colour: unknown key \(value 'blue'\)",
        ),
        ("extras: {a: 1}", r"extras: unknown key"),
        (
            "embedded: {auto_languages: [en, german]}",
            r"embedded\.auto_languages: .*'german' is not a language Whisper knows.*en, de",
        ),
        (
            "embedded: {auto_languages: de}",
            r"embedded\.auto_languages: .*valid list",
        ),
    ],
)
def test_bad_values_name_key_value_and_what_is_allowed(tmp_path, yaml_text, expected):
    with pytest.raises(ConfigError, match=expected):
        load_config(write(tmp_path, yaml_text))


def test_detection_may_be_limited_to_the_users_languages(tmp_path):
    config = load_config(
        write(tmp_path, "embedded: {language: auto, auto_languages: [de, en, de]}")
    )
    assert config.embedded.language is None  # detected on every clip
    assert config.embedded.auto_languages == ["de", "en"]  # each once, in order
    assert Config().embedded.auto_languages == []  # any language


def test_every_error_is_reported_at_once(tmp_path):
    with pytest.raises(ConfigError) as info:
        load_config(
            write(
                tmp_path,
                "chunked_response: {chunk_size_words: 0}\naudio: {max_clip_s: -1}",
            )
        )
    assert "chunk_size_words" in str(info.value) and "max_clip_s" in str(info.value)


def test_missing_file_and_bad_yaml(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.yaml")
    path = write(tmp_path, "model: [unclosed")
    with pytest.raises(ConfigError, match="not valid YAML") as error:
        load_config(path)
    assert f"in {path}, line 1" in str(error.value)  # where, in the user's own file
    with pytest.raises(ConfigError, match="must be a mapping"):
        load_config(write(tmp_path, "- a\n- b\n"))


def test_a_mistyped_key_or_model_gets_the_name_it_was_likely_meant_to_be(tmp_path):
    path = write(
        tmp_path,
        """\
        memroy:
          turns: 2
        servers:
          llama-cpp:
            url: http://127.0.0.1:8080/v1
            modle: qwen
        """,
    )
    with pytest.raises(ConfigError) as error:
        load_config(path)
    said = str(error.value)
    assert "memroy: unknown key (value {'turns': 2}); did you mean 'memory'?" in said
    assert "servers.llama-cpp.modle: unknown key" in said
    assert "did you mean 'model'?" in said
    with pytest.raises(ConfigError) as error:
        load_config(write(tmp_path, "model:\n  id: voxtral-mni\n"))
    said = str(error.value)
    assert "model.id: 'voxtral-mni' names no model" in said
    assert (
        "embedded, embedded-large-v3-turbo, embedded-distil-large-v3, voxtral-mini, qwen2-audio, llama-cpp"
        in said
    )
    assert "got {" not in said  # the whole config is not echoed back
    for fine in ("mistralai/Voxtral-Mini-3B-2507", "llama-cpp", str(tmp_path)):
        assert load_config(write(tmp_path, f"model:\n  id: {fine}\n")).model.id == fine


def test_yaml_is_loaded_safely(tmp_path):
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(
            write(tmp_path, "model: !!python/object/apply:os.system ['echo pwned']")
        )


def test_flat_older_layout_still_loads(tmp_path, caplog):
    config = load_config(
        write(
            tmp_path,
            """
        model_name: Qwen/Qwen2-Audio-7B-Instruct
        device: cpu
        chunked_response: true
        chunk_size: 3
        max_new_tokens: 64
        temperature: 0.5
        silence_threshold_db: -50
    """,
        )
    )
    assert config.model.id == "Qwen/Qwen2-Audio-7B-Instruct"
    assert config.model.device == "cpu"
    assert config.chunked_response.enabled is True
    assert config.chunked_response.chunk_size_words == 3
    assert config.chunked_response.generation.max_new_tokens == 64
    assert config.audio.silence_threshold_dbfs == -50
    assert "older flat layout" in caplog.text


def test_flat_layout_rejects_unknown_keys(tmp_path):
    with pytest.raises(ConfigError, match="unknown key 'chunksize'"):
        load_config(write(tmp_path, "model_name: x\nchunksize: 3\n"))


def test_flat_layout_values_are_validated_too(tmp_path):
    with pytest.raises(ConfigError, match="chunk_size_words"):
        load_config(write(tmp_path, "model_name: x\nchunk_size: 0\n"))


def test_overrides_are_validated(tmp_path):
    path = write(tmp_path, "")
    assert load_config(path, {"model": {"id": "/models/x"}}).model.id == "/models/x"
    with pytest.raises(ConfigError, match="model.device"):
        load_config(path, {"model": {"device": "tpu"}})


def test_config_is_immutable():
    config = validate_config({})
    with pytest.raises(ValidationError, match="frozen"):
        config.model.id = "other"
