"""The model picker: what can answer (``core.pipelines.catalog``), in a combo box, with each
configured server's reachability checked off the GUI thread. Picking one emits ``chosen``;
the controller does the switch."""

from __future__ import annotations

import asyncio
import logging

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QComboBox

from core.config import Config
from core.pipelines.catalog import Choice, choices
from core.pipelines.loading import server_for

log = logging.getLogger(__name__)

#: a server that has not answered its model list within this is "not answering"
PROBE_TIMEOUT_S = 2.0


class ModelPicker(QObject):
    chosen = Signal(str)  # the model id picked

    def __init__(self, box: QComboBox, config: Config, parent: QObject | None = None):
        super().__init__(parent)
        self.box = box
        self.config = config
        self._choices: list[Choice] = []
        self._probes: list[asyncio.Task] = []
        box.activated.connect(self._picked)

    def fill(self, current: str) -> None:
        """List the choices, select ``current``, and start checking the servers."""
        self._choices = choices(self.config)
        if current not in {c.model_id for c in self._choices}:
            self._choices.append(
                Choice(current, current, "downloaded", "given at start")
            )
        self.box.blockSignals(True)
        self.box.clear()
        for choice in self._choices:
            self.box.addItem(choice.label, choice.model_id)
            self.box.setItemData(
                self.box.count() - 1, choice.note, Qt.ItemDataRole.ToolTipRole
            )
        self.box.setCurrentIndex(self.box.findData(current))
        self.box.blockSignals(False)
        self.check_servers()

    def select(self, model_id: str) -> None:
        self.box.blockSignals(True)
        self.box.setCurrentIndex(self.box.findData(model_id))
        self.box.blockSignals(False)

    def check_servers(self) -> None:
        self.cancel_checks()
        for choice in self._choices:
            if choice.kind == "server":
                self._probes.append(asyncio.ensure_future(self._probe(choice)))

    def cancel_checks(self) -> None:
        for task in self._probes:
            task.cancel()
        self._probes.clear()

    async def _probe(self, choice: Choice) -> None:
        name, problem = await asyncio.to_thread(_check, self.config, choice.model_id)
        row = self.box.findData(choice.model_id)
        if row < 0:
            return
        state = "not answering" if problem else "reachable"
        self.box.setItemText(row, f"{choice.label} · {state}")
        self.box.setItemData(
            row, f"{choice.note}\n{problem or 'answering'}", Qt.ItemDataRole.ToolTipRole
        )
        log.info("server %s: %s", name, problem or "reachable")

    def label_of(self, model_id: str) -> str:
        """The choice's name, without its checked state ("· reachable")."""
        return next(
            (c.label for c in self._choices if c.model_id == model_id), model_id
        )

    def state_of(self, model_id: str) -> str:
        row = self.box.findData(model_id)
        return self.box.itemText(row) if row >= 0 else ""

    def _picked(self, row: int) -> None:
        model_id = self.box.itemData(row)
        if model_id is not None:
            self.chosen.emit(model_id)


def _check(config: Config, model_id: str) -> tuple[str, str | None]:
    """The server's name, and why it does not answer (None when it does). Run off the GUI
    thread, import included: the openai client takes a second to import, and each client
    it makes reads the system's CA certificates."""
    from core.pipelines.server.client import ServerChat

    name, settings = server_for(
        config.model_copy(
            update={"model": config.model.model_copy(update={"id": model_id})}
        )
    )
    chat = ServerChat(name, settings)
    try:
        return name, chat.probe(PROBE_TIMEOUT_S)
    finally:
        chat.close()
