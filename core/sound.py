"""The sound card's library, sounddevice over PortAudio, loaded in one place so that a
missing PortAudio says how to install it, for the microphone and the speaker alike."""

from __future__ import annotations

from types import ModuleType

INSTALL_HINT = "on Debian/Ubuntu: apt-get install libportaudio2"


def load_sounddevice(direction: str = "input") -> ModuleType:
    """The sounddevice module; OSError with the install hint when PortAudio is missing.
    ``direction`` (input or output) names what is unavailable in the message."""
    try:
        import sounddevice
    except OSError as exc:
        raise OSError(
            f"audio {direction} is unavailable: {exc} ({INSTALL_HINT})"
        ) from None
    return sounddevice
