"""Pick a preset that needs a download in the real window, watch the bytes arrive, cancel,
retry (the download resumes), and end with the model loaded. Run in a process of its own,
so that huggingface_hub reads HF_ENDPOINT (the fake hub) and HF_HOME (an empty cache) at
import, as it does in the app:

    python -m tests.desktop.download_run MODEL_DIR START_MODEL_DIR OUT.json

Writes what happened as JSON for tests/desktop/test_download.py to check.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from pathlib import Path

VOXTRAL = "mistralai/Voxtral-Mini-3B-2507"


def main() -> None:
    model_dir, start_dir, out = map(Path, sys.argv[1:4])
    from testkit.fake_hub import (
        FakeHub,  # the standard library only: nothing read HF_* yet
    )

    files = {p.name: p.read_bytes() for p in model_dir.iterdir() if p.is_file()}
    files["padding.safetensors"] = bytes(40_000_000)  # a download long enough to watch
    fetched = sum(len(data) for data in files.values())
    # Voxtral's repository also holds Mistral's own format, which transformers never reads
    files["consolidated.safetensors"] = bytes(30_000_000)
    files["params.json"] = b"{}"
    hub = FakeHub(VOXTRAL, files, bytes_per_s=12e6)
    total = fetched
    os.environ.update(
        HF_ENDPOINT=hub.url,
        HF_HOME=str(out.parent / "hf-home"),
        HF_HUB_OFFLINE="0",
        HF_HUB_DISABLE_XET="1",  # the fake hub serves plain HTTP files
        HF_HUB_DISABLE_TELEMETRY="1",
    )
    import qasync
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from core.models.presets import PRESETS
    from desktop_app.app import build
    from testkit.fake_sounddevice import FakeSoundDevice
    from tests.conftest import make_config

    assert PRESETS["voxtral-mini"].hub_id == VOXTRAL

    app = QApplication.instance() or QApplication([])
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    settings = QSettings(str(out.with_suffix(".ini")), QSettings.Format.IniFormat)
    controller = build(make_config(start_dir), settings, FakeSoundDevice())
    window = controller.window
    events: list[dict] = []

    async def until(condition, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise TimeoutError(window.status.text())
            await asyncio.sleep(0.05)

    def note() -> None:
        events.append(
            {
                "t": round(time.monotonic(), 2),
                "status": window.status.text(),
                "progress": window.progress.value()
                if window.progress.isVisible()
                else None,
                "cancel_visible": window.cancel_button.isVisible(),
                "retry_visible": window.retry_button.isVisible(),
            }
        )

    async def drive() -> dict:
        window.show()
        controller.start()
        await until(lambda: controller.state.value == "ready", 60)
        box = window.model_box
        row = box.findData("voxtral-mini")
        listed = box.itemText(row)
        box.setCurrentIndex(row)
        box.activated.emit(row)
        await until(
            lambda: (
                window.progress.value() >= 30 and "Downloading" in window.status.text()
            ),
            60,
        )
        note()
        window.cancel_button.click()
        await until(lambda: controller.state.value == "failed", 30)
        note()
        served_at_cancel = len(hub.requests)
        await asyncio.sleep(0.5)
        note()
        window.retry_button.click()
        while controller.state.value == "loading":
            note()
            await asyncio.sleep(0.2)
        note()
        controller.picker.fill(controller.engine.config.model.id)  # as when reopened
        result = {
            "listed": listed,
            "listed_after": box.itemText(box.findData("voxtral-mini")),
            "state": controller.state.value,
            "description": controller.engine.pipeline.description
            if controller.state.value == "ready"
            else controller.load_error,
            "requests": hub.requests,
            "requests_at_cancel": served_at_cancel,
            "total_bytes": total,
            "events": events,
        }
        await controller.shutdown()
        return result

    with loop:
        result = loop.run_until_complete(drive())
    hub.close()
    out.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
