"""Desktop tests: real Qt widgets offscreen, the real engine on a tiny model, qasync as the
asyncio loop (one for the session, as in the app), and a fake sound card."""

from __future__ import annotations

import asyncio
import gc
import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest
from PySide6.QtCore import QSettings

from testkit.fake_sounddevice import FakeSoundDevice
from tests.conftest import make_config


@pytest.fixture(scope="session")
def qloop(qapp):
    import qasync

    loop = qasync.QEventLoop(qapp, already_running=True)
    asyncio.set_event_loop(loop)
    yield loop
    loop.stop()  # only now: stopping quits the QApplication, which later tests would need
    loop.close()


@pytest.fixture(scope="module", autouse=True)
def _collect_windows_here():
    """Windows a module's tests left in reference cycles are destroyed here, on the GUI
    thread. Left to a collection that happens to run on a worker thread in a later, non-Qt
    test, ``~QWidget`` waits for the GUI thread to flush window events, which no Qt loop
    is there to do: that test hangs."""
    yield
    gc.collect()


@pytest.fixture(autouse=True)
def _on_qt_loop(qloop):
    """The qasync loop is the running loop during a desktop test, and only then, so that the
    engine tests' own loops (pytest-asyncio, asyncio.run) work before and after."""
    asyncio.set_event_loop(qloop)
    asyncio.events._set_running_loop(qloop)
    yield
    asyncio.events._set_running_loop(None)
    asyncio.set_event_loop(None)


@pytest.fixture
def settings(tmp_path):
    return QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)


@pytest.fixture
def sound():
    return FakeSoundDevice()


@pytest.fixture
def make_app(qtbot, tiny_models, settings, sound):
    """Build the real window and controller on a tiny model; shut them down afterwards."""
    from desktop_app.app import build

    built = []

    def make(
        arch="qwen2-audio",
        start=True,
        wait_ready=True,
        backend=None,
        model_dir=None,
        **sections,
    ):
        config = make_config(model_dir or tiny_models[arch], **sections)
        controller = build(config, settings, backend or sound)
        controller.window.show()
        built.append(controller)
        if start:
            controller.start()
            if wait_ready:
                qtbot.waitUntil(
                    lambda: controller.state.value != "loading", timeout=30000
                )
        return controller

    yield make
    for controller in built:
        task = asyncio.ensure_future(controller.shutdown())
        qtbot.waitUntil(task.done, timeout=30000)
        # Delete the window here, in the GUI thread. Left to Python's garbage collector, it
        # could be collected from a worker thread, and a Qt widget must die in its own thread.
        controller.window.close()
        controller.window.deleteLater()
    built.clear()
    qtbot.wait(20)  # runs the deferred deletions
