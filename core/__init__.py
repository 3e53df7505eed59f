"""Headless core of the push-to-talk assistant: config, audio, model backends, streaming engine."""

from core.config import Config, load_config
from core.engine import StreamingEngine
from core.errors import ConfigError, ErrorCode

__all__ = ["Config", "ConfigError", "ErrorCode", "StreamingEngine", "load_config"]
