"""The model behind the window: load it, switch to another without a restart, fall back to
the one that answered before when a new one fails, and remember what the user picked
(QSettings).

It reports by signals only (the status line, notes for the chat, whether Retry and Cancel
apply, ready); the controller connects them to the window. A switch closes the old engine
before the new one loads, so two models are never in memory at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QSettings, Signal

from core import StreamingEngine

if TYPE_CHECKING:
    from core.pipelines.base import Pipeline

log = logging.getLogger(__name__)


def _give_memory_back(pipeline: Pipeline | None) -> None:
    """After ``pipeline`` is closed: what an audio model (torch) left in reference cycles is
    collected here, on the GUI thread, where Qt objects may be finalised, and a GPU's cached
    blocks go back. The embedded default and servers free everything in ``close()``, so
    for them there is no collection and no pause."""
    gc.unfreeze()  # what loading froze (ModelSwitcher._load) may be garbage now
    if pipeline is None or not pipeline.collect_after_close:
        return
    gc.collect()
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        torch.cuda.empty_cache()


async def _unload(engine: StreamingEngine) -> None:
    """Close ``engine`` and give its memory back (a failure is logged: the next model loads
    regardless)."""
    pipeline = engine.pipeline if engine.is_initialized else None
    try:
        await engine.close()
    except Exception:
        log.exception("closing %s failed", engine.config.model.id)
    _give_memory_back(pipeline)


class LoadCancelled(Exception):
    """The user cancelled loading (a download keeps what it fetched, for next time)."""


class ModelState(Enum):
    LOADING = "loading"
    READY = "ready"
    FAILED = "failed"


@dataclass
class EngineUsers:
    """What uses the engine now (the controller's latest turn and preview): a switch stops
    them and waits for them before it closes the engine. A record, not a callback into the
    controller: a part holding the controller could destroy it mid-teardown (gc)."""

    turn: asyncio.Task | None = None
    preview: asyncio.Task | None = None


class ModelSwitcher(QObject):
    progress = Signal(str, object)  # relayed from the engine's loading thread
    status = Signal(str, bool, bool)  # the status line: text, busy, warning
    note = Signal(str)  # for the chat
    can_cancel = Signal(bool)  # whether a load is under way that Cancel can stop
    can_retry = Signal(bool)  # whether Retry would load the model again
    switching = Signal(str)  # a switch has made the engine for this model id
    stopping = Signal()  # a switch is about to close the engine: stop using it
    ready = Signal()  # the model has loaded

    def __init__(
        self,
        engine: StreamingEngine,
        settings: QSettings,
        users: EngineUsers,
        label_of: Callable[[str], str] = str,
        parent: QObject | None = None,
    ) -> None:
        """``label_of``: a model id's name, for notes (the model picker's)."""
        super().__init__(parent)
        self.engine = engine
        self.settings = settings
        self._users = users
        self._label_of = label_of
        self.state = ModelState.LOADING
        self.load_error: str | None = None
        self.closing = False
        #: leave what is loaded out of later garbage collections (the app sets it; see _load)
        self.freeze_after_load = False
        self._cancel_load = threading.Event()
        self._load_task: asyncio.Task | None = None
        self._switch_task: asyncio.Task | None = None
        self._unloading: asyncio.Future | None = None  # the model a switch is closing
        #: the model loaded or being switched to
        self._target_id = engine.config.model.id
        #: whether that model was picked in the window (remembered once loaded)
        self._picked = False
        #: the model that answered before a switch, to go back to if the new one fails,
        #: and whether it had been picked in the window
        self._fallback_id: str | None = None
        self._picked_before = False

    # -- loading -----------------------------------------------------------------------------

    def start_loading(self) -> None:
        if self.closing or (self._load_task is not None and not self._load_task.done()):
            return
        self.state, self.load_error = ModelState.LOADING, None
        self._cancel_load.clear()
        self.can_retry.emit(False)
        self.can_cancel.emit(True)
        self._show(f"Loading {self.engine.config.model.id}…", busy=True)
        self._load_task = asyncio.ensure_future(self._load())

    def _loading_progress(self, message: str, fraction: float | None) -> None:
        """Called on the loading thread (a download's, too): a cancel stops it here."""
        if self._cancel_load.is_set():
            raise LoadCancelled(message)
        self.progress.emit(message, fraction)

    def cancel_loading(self) -> None:
        """Stop a load at its next progress step (a download within a fraction of a second)."""
        self._cancel_load.set()
        self._show("Cancelling…", busy=True)

    async def _load(self) -> None:
        engine = self.engine
        name = engine.config.model.id
        try:
            await engine.initialize(self._loading_progress)
        except LoadCancelled:
            log.info("loading %s cancelled", name)
            self._fallback_id = None  # Retry then tries this model again, nothing else
            self.state, self.load_error = ModelState.FAILED, "cancelled"
            self._show(
                f"Loading {name} was cancelled; files already downloaded are kept. "
                "Retry, or pick another model."
            )
            self.can_retry.emit(True)
            return
        except Exception as exc:
            log.exception("loading %s failed", name)
            self.state, self.load_error = ModelState.FAILED, str(exc)
            self._show(f"Could not load {name}: {exc}", warning=True)
            fallback, self._fallback_id = self._fallback_id, None
            back = (
                f" Back to {self._label_of(fallback)}."
                # not when a newer pick is already on its way
                if fallback not in (None, name) and self._target_id == name
                else ""
            )
            # The whole reason, wrapped, where it is read: the status line shows its start.
            self.note.emit(f"Could not load {self._label_of(name)}: {exc}{back}")
            if back:  # a failed switch does not leave the window with no model
                self.choose_model(fallback, picked=False)
                return
            self.can_retry.emit(True)
            return
        finally:
            self.can_cancel.emit(False)
        self.state, self._fallback_id = ModelState.READY, None
        if self.freeze_after_load:
            # What the load made is left out of later cyclic collections: a full one walking
            # it all held the GIL long enough to freeze the window mid-answer
            # (docs/design-notes.md). Unfrozen again when the model is unloaded.
            gc.freeze()
        problem = engine.pipeline.problem
        if self._picked and not problem:
            # Remembered once it has loaded (and, for a server, answered): a cancelled
            # download is not restarted at the next start, a server that was down is not
            # what the next start opens on, and --model stays a one-run choice.
            self.settings.setValue("model/id", name)
        log.info("window ready: %s", engine.pipeline.description)
        self.report_state()
        if problem:
            self.note.emit(f"The server is not answering yet: {problem}")
        if engine.pipeline.notice:
            self.note.emit(engine.pipeline.notice)
        self.ready.emit()

    def report_state(self) -> None:
        """Put the model's state in the status line."""
        model_id = self.engine.config.model.id
        if self.state is ModelState.READY:
            self._show(f"Ready · {self.engine.pipeline.description}")
        elif self.state is ModelState.LOADING:
            self._show(f"Loading {model_id}…", busy=True)
        else:
            self._show(f"Could not load {model_id}: {self.load_error}")

    def _show(self, text: str, busy: bool = False, warning: bool = False) -> None:
        self.status.emit(text, busy, warning)

    # -- switching models --------------------------------------------------------------------

    def choose_model(self, model_id: str, picked: bool = True) -> None:
        """Switch to ``model_id`` without a restart: the answer stops, the old model is
        unloaded (its memory given back), the new one loads in the background.
        ``picked=False``: not the user's choice (a fallback), so not remembered as one."""
        if self.closing or (
            model_id == self._target_id and self.state is not ModelState.FAILED
        ):
            return
        self._target_id = model_id
        if picked:
            self._picked_before, self._picked = self._picked, True
        else:  # back to what answered before: remembered only if it was picked itself
            self._picked = self._picked_before
        if self._switch_task is not None and not self._switch_task.done():
            self._switch_task.cancel()
        self._switch_task = asyncio.ensure_future(self._switch(model_id))

    async def _switch(self, model_id: str) -> None:
        # Loading from now on: a clip recorded meanwhile waits for the new model.
        self.state = ModelState.LOADING
        self.stopping.emit()
        self._cancel_load.set()
        busy = [
            task
            for task in (self._users.turn, self._users.preview, self._load_task)
            if task is not None and not task.done()
        ]
        for task in busy:
            task.cancel()
        if busy:
            await asyncio.wait(busy)  # never raises: this switch's own cancel still can
        if self._unloading is not None:
            await asyncio.shield(self._unloading)  # an earlier switch's unload
        old = self.engine
        # Only a model that answered is worth going back to (not one that failed itself).
        self._fallback_id = old.config.model.id if old.is_initialized else None
        config = old.config.model_copy(
            update={"model": old.config.model.model_copy(update={"id": model_id})}
        )
        self.engine = StreamingEngine(config)
        self.switching.emit(model_id)
        self._show(f"Unloading {old.config.model.id}…", busy=True)
        old_id = old.config.model.id
        # A task of its own, shielded: a newer switch (or quitting) cancels this one but
        # waits for the unload, so two models are never in memory at once.
        self._unloading = asyncio.ensure_future(_unload(old))
        del old
        await asyncio.shield(self._unloading)
        log.info("switched from %s to %s", old_id, model_id)
        self.note.emit(f"Switching to {self._label_of(model_id)} (a new conversation)")
        self.start_loading()

    # -- quitting ----------------------------------------------------------------------------

    def stop(self) -> None:
        """No load or switch starts from now on, and a load under way stops."""
        self.closing = True
        self._cancel_load.set()

    async def wind_down(self) -> None:
        """After ``stop``: end a switch and a load under way, and wait for an unload."""
        for task in (self._switch_task, self._load_task):
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task
        if self._unloading is not None:
            await self._unloading
