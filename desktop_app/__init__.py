"""The PySide6 desktop window (push-to-talk, energy meter, chat view). Consumes core/."""
