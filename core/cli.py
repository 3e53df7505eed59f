"""``ptt-ask CLIP.wav``: stream the assistant's answer to a recorded clip in a terminal.

Plain text by default (the answer, chunk by chunk, as it arrives); ``--json`` prints one JSON
object per chunk with every field. ``--speak`` also says the answer aloud as it streams, and
``--speak-to FILE.wav`` writes that speech to a file. Exit status: 0 answered, 1 the engine
reported an error item (its code is printed), 2 bad usage, config, voice or input file, 3 the
model failed to load.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from core.config import MODES, Config, load_config
from core.engine import StreamingEngine
from core.errors import ConfigError
from core.models.packaged import cache_dir
from core.speech.sinks import SPEECH_FILE_FORMATS, SpeechOutputError, WavSink
from core.speech.speaker import Speaker, speaker_for
from core.speech.voice import VoiceError, voice_file
from core.speech.voice_process import VoiceProcess

EXIT_OK, EXIT_ENGINE_ERROR, EXIT_USAGE, EXIT_LOAD = 0, 1, 2, 3


class InputError(Exception):
    """The clip file cannot be used; the message says why and what is accepted."""


def _wav_shortfall(path: Path) -> tuple[int, int] | None:
    """(declared, present) bytes of audio when a RIFF/WAVE file is cut short, else None.

    libsndfile quietly reads whatever part of a truncated WAV is there; a recording that lost
    its end should be an error, not half a question.
    """
    with path.open("rb") as handle:
        header = handle.read(12)
        if len(header) < 12 or header[:4] != b"RIFF" or header[8:12] != b"WAVE":
            return None
        while chunk := handle.read(8):
            if len(chunk) < 8:
                return None
            size = int.from_bytes(chunk[4:], "little")
            if chunk[:4] == b"data":
                present = path.stat().st_size - handle.tell()
                unknown = size in (0, 0xFFFFFFFF)  # written by a streaming recorder
                return (size, present) if not unknown and present < size else None
            handle.seek(size + (size & 1), 1)
    return None


def read_clip(path: Path) -> tuple[np.ndarray, int]:
    """Samples (frames x channels, float32) and rate of an audio file soundfile can read."""
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if path.is_dir():
        raise InputError(f"{path}: is a folder, not an audio file")
    try:
        samples, rate = sf.read(path, dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, OSError) as exc:
        raise InputError(
            f"{path}: not a readable audio file ({exc}); accepted: WAV, FLAC, OGG/Vorbis, "
            "MP3 and other formats libsndfile reads"
        ) from None
    shortfall = _wav_shortfall(path)
    if shortfall is not None:
        declared, present = shortfall
        raise InputError(
            f"{path}: the WAV file is truncated (its header announces {declared} bytes of audio, "
            f"the file holds {present}); record or copy it again"
        )
    return samples, rate


EPILOG = """exit status:
  0  answered
  1  the engine reported an error for the clip (no speech, too long or short, ...):
     its code and message are printed; or the --speak-to file could not be written
  2  bad usage, config, voice, input file or --speak-to file
  3  the model could not be loaded"""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ptt-ask",
        description="Ask the local assistant about a recorded clip and stream the answer.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "clip",
        type=Path,
        help="audio file (WAV, FLAC, OGG, MP3, ...; any rate, mono or stereo)",
    )
    parser.add_argument(
        "--mode",
        choices=MODES,
        default="conversation",
        help="conversation: answer the question (default); transcribe: write down "
        "what was said",
    )
    parser.add_argument("--json", action="store_true", help="one JSON object per chunk")
    parser.add_argument(
        "--config", type=Path, help="config file (default: the project's config.yaml)"
    )
    parser.add_argument(
        "--model",
        help="embedded, a preset, a Hugging Face id or local folder, a servers entry's "
        "name (llama-cpp, ollama, ...) or a server URL (http://HOST:PORT/v1); overrides "
        "model.id in the config",
    )
    parser.add_argument(
        "--speak", action="store_true", help="say the answer aloud as it streams"
    )
    parser.add_argument(
        "--speak-to",
        type=Path,
        metavar="FILE.wav",
        help="write the spoken answer to a WAV or FLAC file (written once the answer "
        "is complete; nothing is written after an error)",
    )
    parser.add_argument("--stats", action="store_true", help="timing summary on stderr")
    parser.add_argument("-v", "--verbose", action="store_true", help="log to stderr")
    return parser


def _config(args: argparse.Namespace) -> Config:
    overrides = {"model": {"id": args.model}} if args.model else None
    return load_config(args.config, overrides)


def _progress_printer() -> Callable[[str, float | None], None]:
    """First-use preparation on stderr: one line per step, percentages in tenths."""
    last: list = [None, None]

    def show(message: str, fraction: float | None) -> None:
        tenth = None if fraction is None else int(fraction * 10)
        if [message, tenth] == last:
            return
        last[:] = [message, tenth]
        suffix = "" if fraction is None else f" {fraction:.0%}"
        print(f"  {message}{suffix}", file=sys.stderr, flush=True)

    return show


def _print_item(item: dict[str, Any], as_json: bool, started: bool) -> bool:
    if as_json:
        print(json.dumps(item, default=str), flush=True)
        return started
    if item["text"]:
        sys.stdout.write((" " if started else "") + item["text"])
        sys.stdout.flush()
        started = True
    if item["is_final"] and started:
        sys.stdout.write("\n")
        sys.stdout.flush()
    return started


def check_speech_file(path: Path) -> None:
    """Raises InputError, before anything loads, for a ``--speak-to`` file that cannot be
    written: the wrong type, a folder, or in a folder that does not exist."""
    types = " or ".join(f.upper().lstrip(".") for f in SPEECH_FILE_FORMATS)
    suffixes = " or ".join(SPEECH_FILE_FORMATS)
    if path.is_dir():
        raise InputError(
            f"--speak-to {path} is a folder: name a file ending {suffixes}"
        )
    if path.suffix.lower() not in SPEECH_FILE_FORMATS:
        raise InputError(
            f"--speak-to {path}: the spoken answer is written as {types}; "
            f"name the file with {suffixes}"
        )
    folder = path.parent
    if not folder.is_dir():
        raise InputError(f"--speak-to {path}: the folder {folder} does not exist")
    if not os.access(folder, os.W_OK):
        raise InputError(f"--speak-to {path}: the folder {folder} is not writable")


def _voice_path(args: argparse.Namespace, config: Config) -> Path | None:
    """The voice to speak with, when asked to speak; raises VoiceError for a missing one."""
    settings = config.speech
    if not (args.speak or args.speak_to or settings.enabled):
        return None
    return voice_file(settings.voice, cache_dir(config.embedded))


def _speaker(args: argparse.Namespace, config: Config, onnx: Path) -> Speaker | None:
    """The answer's speaker (its voice in a process of its own, so synthesis never takes
    the GIL from decoding); raises VoiceError for an unusable voice or output file."""
    voice = VoiceProcess(onnx)
    try:
        return speaker_for(voice, config.speech, to_file=args.speak_to)
    except SpeechOutputError as exc:
        print(f"ptt-ask: {exc}; the answer is only printed", file=sys.stderr)
        voice.close()
        return None
    except BaseException:
        voice.close()
        raise


async def ask(args: argparse.Namespace) -> int:
    try:
        config = _config(args)
        samples, rate = read_clip(args.clip)
        if args.speak_to:
            check_speech_file(args.speak_to)
        onnx = _voice_path(args, config)
    except (ConfigError, InputError, VoiceError) as exc:
        print(f"ptt-ask: {exc}", file=sys.stderr)
        return EXIT_USAGE
    # The voice starts (about a second) while the model loads.
    voice_ready = (
        asyncio.ensure_future(asyncio.to_thread(_speaker, args, config, onnx))
        if onnx is not None
        else None
    )
    status = EXIT_ENGINE_ERROR  # until the answer is complete
    try:
        status = await _answer(args, config, samples, rate, voice_ready)
        return status
    finally:
        speaker = None
        if voice_ready is not None:
            with contextlib.suppress(Exception):
                speaker = await voice_ready
        if speaker is not None:
            speaker.stop()  # a no-op after a finished answer; silences an interrupted one
            speaker.wait()
            if isinstance(speaker.sink, WavSink) and (
                status != EXIT_OK or speaker.error is not None
            ):
                speaker.sink.discard()
            else:
                speaker.sink.close()
            speaker.voice.close()


async def _answer(
    args: argparse.Namespace,
    config: Config,
    samples: np.ndarray,
    rate: int,
    voice_ready: asyncio.Future | None,
) -> int:
    engine = StreamingEngine(config)
    print(f"Loading {config.model.id} ...", file=sys.stderr, flush=True)
    try:
        await engine.initialize(_progress_printer())
    except Exception as exc:  # noqa: BLE001 - any load failure is reported, not raised
        print(f"ptt-ask: could not load {config.model.id}: {exc}", file=sys.stderr)
        return EXIT_LOAD
    if engine.pipeline.notice:
        print(f"ptt-ask: {engine.pipeline.notice}", file=sys.stderr)
    speaker: Speaker | None = None
    if voice_ready is not None:
        try:
            # shielded: a Ctrl+C here still leaves the speaker to ask()'s clean-up
            speaker = await asyncio.shield(voice_ready)
        except VoiceError as exc:
            print(f"ptt-ask: {exc}", file=sys.stderr)
            await engine.close()
            return EXIT_USAGE
    status, started = EXIT_OK, False
    try:
        stream = engine.process_realtime_chunk_streaming(
            samples, args.clip.name, args.mode, sample_rate=rate
        )
        async for item in stream:
            started = _print_item(item, args.json, started)
            if speaker is not None and item["text"]:
                speaker.feed(item["text"] + " ")
            if not item["success"]:
                status = EXIT_ENGINE_ERROR
                shown = item["message"]
                if item["detail"] not in shown:
                    shown = f"{shown} ({item['detail']})"
                print(f"ptt-ask: {item['error']}: {shown}", file=sys.stderr)
            elif item["is_final"]:
                if item.get("reached_max_new_tokens"):
                    print(
                        f"ptt-ask: the answer was cut at {item['generated_tokens']} tokens"
                        " (chunked_response.generation.max_new_tokens)",
                        file=sys.stderr,
                    )
                if args.stats:
                    print(
                        f"[first chunk {item['ttfc_ms']:.0f} ms, total"
                        f" {item['total_ms']:.0f} ms, {item['generated_tokens']} tokens"
                        f" at {item['tokens_per_s']:.1f} tok/s]",
                        file=sys.stderr,
                    )
    finally:
        await engine.close()
    if speaker is not None and status == EXIT_OK:
        speaker.finish()
        await asyncio.to_thread(speaker.wait)
        if speaker.error is not None:
            print(f"ptt-ask: speech stopped: {speaker.error}", file=sys.stderr)
            if args.speak_to:
                status = EXIT_ENGINE_ERROR  # the file asked for is not written
        elif args.stats and speaker.first_sound_delay_s is not None:
            print(
                f"[{len(speaker.spoken)} sentence{'s' * (len(speaker.spoken) != 1)} "
                "spoken, first sound"
                f" {speaker.first_sound_delay_s * 1000:.0f} ms after the first chunk]",
                file=sys.stderr,
            )
    return status


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    if (
        not args.verbose
    ):  # its turn errors are printed here, once, as "ptt-ask: CODE: ..."
        logging.getLogger("core.engine").setLevel(logging.ERROR)
    try:
        return asyncio.run(ask(args))
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
