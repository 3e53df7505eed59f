"""The configuration schema, declared once, and its loader.

Every key has a type, a default and a range; ``config.yaml`` documents the same keys. A bad
value or an unknown key is a :class:`~core.errors.ConfigError` naming the key, the value and
what is allowed. Configs written for the older flat layout are mapped onto the sections.
"""

from __future__ import annotations

import difflib
import logging
import os
import re
from pathlib import Path
from typing import Any, Literal, get_args
from urllib.parse import urlsplit

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from core.errors import ConfigError
from core.languages import check_language
from core.models.names import is_url, reserved_names, what_it_names

log = logging.getLogger(__name__)

DEFAULT_CONFIG_PATH = Path(__file__).resolve().parent.parent / "config.yaml"
MODES = ("conversation", "transcribe")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, protected_namespaces=())


_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def server_url(value: str) -> str:
    """An OpenAI-compatible base URL, ending in ``/v1`` when given as a bare host."""
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(
            "must be an http:// or https:// URL with a host, e.g. http://127.0.0.1:8080/v1"
        )
    try:
        parts.port  # noqa: B018 - raises for a port that is not a number
    except ValueError:
        raise ValueError("has a port that is not a number") from None
    if "@" in parts.netloc:
        # It would be shown wherever the URL is (status, errors, logs), and httpx would
        # send it as Basic auth in place of the key.
        raise ValueError(
            "must not hold a user name or password (user:password@host); the key goes in "
            "an environment variable named by the server's api_key_env"
        )
    url = value.strip().rstrip("/")
    return url if parts.path.strip("/") else url + "/v1"


class ModelSettings(_Section):
    id: str = Field(
        "embedded",
        min_length=1,
        description="preset (embedded, embedded-large-v3-turbo, embedded-distil-large-v3, "
        "voxtral-mini, qwen2-audio), a servers entry's name, "
        "a server URL, Hugging Face id or local folder",
    )
    device: str = Field("auto", description="auto, cpu, cuda, cuda:N or mps")
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"
    attn_implementation: Literal["auto", "eager", "sdpa", "flash_attention_2"] = "auto"
    trust_remote_code: bool = False

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        if is_url(value):
            server_url(value)  # a server URL: checked here, used as it is
        return value

    @field_validator("device")
    @classmethod
    def _device(cls, value: str) -> str:
        if value in ("auto", "cpu", "cuda", "mps") or (
            value.startswith("cuda:") and value[5:].isdigit()
        ):
            return value
        raise ValueError("must be one of auto, cpu, cuda, cuda:N (N a GPU index), mps")


class AudioSettings(_Section):
    sample_rate: int = Field(
        16000,
        ge=8000,
        le=192000,
        description="rate assumed for arrays passed without sample_rate",
    )
    silence_threshold_dbfs: float = Field(-45.0, ge=-100.0, lt=0.0)
    min_speech_s: float = Field(0.2, ge=0.0, le=10.0)
    quiet_speech: Literal["silero", "off"] = "silero"
    min_clip_s: float = Field(0.1, gt=0.0, le=10.0)
    max_clip_s: float = Field(30.0, gt=0.0, le=3600.0)
    handoff: Literal["auto", "memory", "file"] = "auto"


class GenerationSettings(_Section):
    max_new_tokens: int = Field(256, ge=1, le=32768)
    do_sample: bool = False
    temperature: float = Field(0.7, gt=0.0, le=5.0)
    top_p: float = Field(0.9, gt=0.0, le=1.0)
    repetition_penalty: float = Field(1.0, gt=0.0, le=5.0)


class ChunkedResponseSettings(_Section):
    enabled: bool = True
    chunk_size_words: int = Field(4, ge=1, le=1000)
    streamer_timeout_s: float = Field(60.0, gt=0.0, le=3600.0)
    generation: GenerationSettings = GenerationSettings()


class PromptSettings(_Section):
    conversation: str = Field(
        "You are a helpful voice assistant. Answer the user's spoken question correctly, "
        "in one or two short sentences.",
        min_length=1,
    )
    transcribe: str = Field(
        "Transcribe the audio verbatim. Output only the words that were spoken.",
        min_length=1,
    )
    local_time: bool = True


class EmbeddedSettings(_Section):
    chat_model: Literal["qwen2.5-1.5b", "qwen2.5-0.5b", "smollm2-135m"] = "qwen2.5-1.5b"
    chat_runtime: Literal["auto", "llama.cpp", "transformers"] = "auto"
    language: str | None = Field("en", min_length=2, max_length=4)
    #: with ``language: auto``, the languages detection chooses among (empty: any)
    auto_languages: list[str] = Field(default_factory=list, max_length=99)
    recognizer_device: Literal["auto", "cpu", "cuda"] = "auto"
    recognizer_compute_type: Literal[
        "auto", "int8", "int8_float32", "float32", "float16", "int8_float16"
    ] = "auto"
    recognizer_window: Literal["clip", "full"] = "clip"
    recognizer_beam_size: int = Field(1, ge=1, le=10)
    misheard: Literal["ask", "answer"] = "ask"
    threads: int = Field(0, ge=0, le=256)
    cache_dir: str | None = None

    @field_validator("language")
    @classmethod
    def _auto_is_detected(cls, value: str | None) -> str | None:
        if value is None or value == "auto":
            return None  # detected on every clip
        return check_language(value)

    @field_validator("auto_languages")
    @classmethod
    def _known_languages(cls, values: list[str]) -> list[str]:
        return list(dict.fromkeys(check_language(code) for code in values))


class SpeechSettings(_Section):
    enabled: bool = False
    voice: str = Field(
        "joe",
        min_length=1,
        description="joe (the packaged US English voice) or the path of a piper .onnx voice",
    )
    rate: float = Field(1.0, ge=0.5, le=2.0)
    clause_words: int = Field(12, ge=3, le=100)


class ServerSettings(_Section):
    """One OpenAI-compatible chat server (vLLM, llama.cpp's server, Ollama, LM Studio...)."""

    url: str = Field(description="base URL of the OpenAI-compatible API")
    model: str | None = Field(
        None,
        min_length=1,
        description="model name to ask for; null: the server's first",
    )
    input: Literal["text", "audio"] = "text"
    api_key_env: str | None = Field(
        None, description="name of the environment variable that holds the API key"
    )
    timeout_s: float = Field(60.0, gt=0.0, le=3600.0)
    options: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _no_key_in_file(cls, data: Any) -> Any:
        if isinstance(data, dict) and "api_key" in data:
            raise ValueError(
                "api_key: the key itself never goes in the config file; put it in an "
                "environment variable and name that variable in api_key_env"
            )
        return data

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return server_url(value)

    @field_validator("api_key_env")
    @classmethod
    def _env_name(cls, value: str | None) -> str | None:
        if value is not None and not _ENV_NAME.fullmatch(value):
            raise ValueError(
                "must be the name of an environment variable (letters, digits, _), "
                "e.g. OPENAI_API_KEY, not the key itself"
            )
        return value

    @field_validator("options")
    @classmethod
    def _options(cls, value: dict[str, Any]) -> dict[str, Any]:
        owned = {"messages", "stream", "stream_options", "model"} & set(value)
        if owned:
            raise ValueError(
                f"{', '.join(sorted(owned))} cannot be set here: the app sends them; "
                "options holds extra generation fields such as top_k or max_tokens"
            )
        return value


def _default_servers() -> dict[str, ServerSettings]:
    return {
        "llama-cpp": ServerSettings(url="http://127.0.0.1:8080/v1"),
        "ollama": ServerSettings(url="http://127.0.0.1:11434/v1"),
        "vllm-voxtral": ServerSettings(
            url="http://127.0.0.1:8000/v1",
            model="mistralai/Voxtral-Mini-3B-2507",
            input="audio",
        ),
    }


class DictationSettings(_Section):
    method: Literal["type", "paste"] = "type"
    paste_key: Literal["ctrl+v", "ctrl+shift+v", "shift+insert"] = "ctrl+v"
    trailing_space: bool = True


class HistorySettings(_Section):
    enabled: bool = True
    keep_clips: bool = False
    path: str = ""

    def file(self) -> Path:
        """The database: ``path``, or under the XDG data directory."""
        if self.path:
            return Path(self.path).expanduser()
        data = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
        return Path(data) / "ptt-assistant" / "history.sqlite3"


class MemorySettings(_Section):
    turns: int = Field(4, ge=0, le=50)


class Config(_Section):
    model: ModelSettings = ModelSettings()
    embedded: EmbeddedSettings = EmbeddedSettings()
    audio: AudioSettings = AudioSettings()
    chunked_response: ChunkedResponseSettings = ChunkedResponseSettings()
    memory: MemorySettings = MemorySettings()
    prompts: PromptSettings = PromptSettings()
    speech: SpeechSettings = SpeechSettings()
    dictation: DictationSettings = DictationSettings()
    history: HistorySettings = HistorySettings()
    servers: dict[str, ServerSettings] = Field(default_factory=_default_servers)

    @field_validator("servers")
    @classmethod
    def _server_names(
        cls, value: dict[str, ServerSettings]
    ) -> dict[str, ServerSettings]:
        reserved = reserved_names()
        for name in value:
            if name in reserved or not re.fullmatch(
                r"[A-Za-z0-9][A-Za-z0-9._-]*", name
            ):
                raise ValueError(
                    f"{name!r} cannot name a server: use letters, digits, '.', '_' or "
                    f"'-', and none of {', '.join(reserved)}"
                )
        return value

    @model_validator(mode="after")
    def _model_is_something(self) -> Config:
        """A model.id that can name nothing (no preset, server, URL, hub id or folder) is
        a typo: said now, with the names it could be, not after a failed hub lookup."""
        if what_it_names(self.model.id, self.servers) is not None:
            return self
        known = ", ".join([*reserved_names(), *self.servers])
        raise ValueError(
            f"model.id: {self.model.id!r} names no model: use one of {known}, a server URL "
            "(http://HOST:PORT/v1), a Hugging Face id (owner/name) or a local folder"
        )

    def prompt_for(self, mode: str) -> str:
        return getattr(self.prompts, mode)


# The older flat layout: one level of keys. Each maps onto a (section, ..., key) path.
_FLAT_KEYS: dict[str, tuple[str, ...]] = {
    "model_name": ("model", "id"),
    "model_id": ("model", "id"),
    "device": ("model", "device"),
    "torch_dtype": ("model", "dtype"),
    "dtype": ("model", "dtype"),
    "attn_implementation": ("model", "attn_implementation"),
    "trust_remote_code": ("model", "trust_remote_code"),
    "sample_rate": ("audio", "sample_rate"),
    "silence_threshold_dbfs": ("audio", "silence_threshold_dbfs"),
    "silence_threshold_db": ("audio", "silence_threshold_dbfs"),
    "min_speech_duration_s": ("audio", "min_speech_s"),
    "max_audio_length_s": ("audio", "max_clip_s"),
    "history_turns": ("memory", "turns"),
    "chunked_response": ("chunked_response", "enabled"),
    "chunk_size": ("chunked_response", "chunk_size_words"),
    "chunk_size_words": ("chunked_response", "chunk_size_words"),
    "streamer_timeout": ("chunked_response", "streamer_timeout_s"),
    "max_new_tokens": ("chunked_response", "generation", "max_new_tokens"),
    "do_sample": ("chunked_response", "generation", "do_sample"),
    "temperature": ("chunked_response", "generation", "temperature"),
    "top_p": ("chunked_response", "generation", "top_p"),
    "repetition_penalty": ("chunked_response", "generation", "repetition_penalty"),
    "conversation_prompt": ("prompts", "conversation"),
    "transcribe_prompt": ("prompts", "transcribe"),
}
_SECTIONS = set(Config.model_fields)


def _from_flat(data: dict[str, Any]) -> dict[str, Any]:
    nested: dict[str, Any] = {}
    for key, value in data.items():
        path = _FLAT_KEYS.get(key)
        if path is None:
            raise ConfigError(
                f"unknown key {key!r} in a flat (older layout) config; "
                f"known flat keys: {', '.join(sorted(_FLAT_KEYS))}"
            )
        node = nested
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = value
    return nested


def _is_flat(data: dict[str, Any]) -> bool:
    # "chunked_response" is a section now and a bool flag in the flat layout.
    return not any(
        k in _SECTIONS and (isinstance(v, dict) or v is None) for k, v in data.items()
    ) and any(k in _FLAT_KEYS for k in data)


def _section_keys(loc: tuple[Any, ...]) -> list[str]:
    """The keys allowed where ``loc`` ends: those of the section that holds it."""
    section: Any = Config
    for part in loc[:-1]:
        if isinstance(section, type) and issubclass(section, BaseModel):
            field = section.model_fields.get(str(part))
            if field is None:
                return []
            section = field.annotation
        else:  # a mapping of named entries (servers): the part is an entry's name
            section = get_args(section)[-1] if get_args(section) else None
    if isinstance(section, type) and issubclass(section, BaseModel):
        return list(section.model_fields)
    return []


def _describe(error: dict[str, Any]) -> str:
    key = ".".join(str(p) for p in error["loc"]) or "(top level)"
    if error["type"] == "extra_forbidden":
        close = difflib.get_close_matches(
            str(error["loc"][-1]), _section_keys(error["loc"]), n=1
        )
        hint = f"did you mean {close[0]!r}?" if close else "check its spelling"
        return (
            f"{key}: unknown key (value {error['input']!r}); {hint} (see config.yaml)"
        )
    message = error["msg"].removeprefix("Value error, ")
    if not error["loc"]:
        return message  # a check across sections: its input is the whole config
    if message.startswith("api_key:"):
        return f"{key}.{message}"  # never echo a secret back
    if error["loc"] and error["loc"][-1] == "api_key_env":
        return f"{key}: {message}"  # the value may be the key itself
    if "user name or password" in message:
        return f"{key}: {message}"  # the value holds the password
    return f"{key}: {message} (got {error['input']!r})"


def validate_config(data: dict[str, Any] | None, source: str = "config") -> Config:
    """Validate a parsed mapping (either layout) into a :class:`Config`."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"{source}: the top level must be a mapping of sections, got {type(data).__name__}"
        )
    if _is_flat(data):
        log.warning(
            "%s uses the older flat layout; it still loads, but see config.yaml for sections",
            source,
        )
        data = _from_flat(data)
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        lines = "\n  ".join(_describe(e) for e in exc.errors())
        raise ConfigError(f"{source} is invalid:\n  {lines}") from None


def load_config(
    path: str | Path | None = None, overrides: dict[str, Any] | None = None
) -> Config:
    """Load and validate a YAML config (default: the project's ``config.yaml``).

    ``overrides`` are nested mappings merged over the file, e.g. ``{"model": {"id": "..."}}``.
    """
    path = Path(path) if path is not None else DEFAULT_CONFIG_PATH
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read config file {path}: {exc}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        where = str(exc).replace('in "<unicode string>"', f"in {path}")
        raise ConfigError(f"{path} is not valid YAML: {where}") from None
    config = validate_config(data, str(path))
    if overrides:
        config = validate_config(_merge(config.model_dump(), overrides), str(path))
    return config


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out
