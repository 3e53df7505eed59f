"""Build the pipeline a config names: the embedded default, a configured server or a server
URL, a preset, a hub id or a folder."""

from __future__ import annotations

from core.config import Config
from core.pipeline import Pipeline, Progress
from core.presets import EMBEDDED, model_files, resolve_preset, server_for


def load_pipeline(config: Config, progress: Progress | None = None) -> Pipeline:
    """Blocking; call it off the event loop."""
    if config.model.id == EMBEDDED:
        from core.embedded.pipeline import EmbeddedPipeline

        return EmbeddedPipeline.load(config, progress)
    server = server_for(config)
    if server is not None:
        from core.server.pipeline import ServerPipeline

        return ServerPipeline.load(config, *server, progress)
    from core.audio_lm import AudioLMPipeline  # transformers: imported only when needed

    model_id = resolve_preset(config.model.id)
    folder = model_files(model_id, progress)
    if progress:
        progress(f"Loading {model_id}", None)
    return AudioLMPipeline.load(config.model, folder, config.audio.handoff, model_id)
