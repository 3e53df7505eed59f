"""Build the pipeline a config's ``model.id`` names (``core.models.names`` says which kind):
the embedded default, a configured server or a server URL, a preset, a hub id or a folder."""

from __future__ import annotations

from core.config import Config, ServerSettings
from core.models.extras import require_audio_models
from core.models.names import what_it_names
from core.models.presets import resolve_preset
from core.pipelines.base import Pipeline, Progress


def server_for(config: Config) -> tuple[str, ServerSettings] | None:
    """The server ``model.id`` names (a ``servers`` entry, or a URL: text in, no key), or
    None when the model runs in this process."""
    model_id = config.model.id
    named = what_it_names(model_id, config.servers)
    if named is None or not named.answers_by_server:
        return None
    if named.kind == "server":
        return model_id, config.servers[model_id]
    return model_id, ServerSettings(url=model_id)


def load_pipeline(config: Config, progress: Progress | None = None) -> Pipeline:
    """Blocking; call it off the event loop."""
    named = what_it_names(config.model.id, config.servers)
    if named is not None and named.kind == "embedded":
        from core.pipelines.embedded.pipeline import EmbeddedPipeline

        return EmbeddedPipeline.load(config, progress)
    server = server_for(config)
    if server is not None:
        from core.pipelines.server.pipeline import ServerPipeline

        return ServerPipeline.load(config, *server, progress)
    model_id = resolve_preset(config.model.id)
    require_audio_models(f"{model_id} (an audio model)")
    # transformers: imported only when needed
    from core.models.hub import model_files
    from core.pipelines.audio_lm.pipeline import AudioLMPipeline

    folder = model_files(model_id, progress)
    if progress:
        progress(f"Loading {model_id}", None)
    pipeline = AudioLMPipeline.load(
        config.model, folder, config.audio.handoff, model_id
    )
    pipeline.local_time = config.prompts.local_time
    return pipeline
