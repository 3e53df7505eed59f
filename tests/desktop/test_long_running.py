"""The window must run for hours. PySide6 6.12.0 on Python 3.11 dropped a reference to None
on every Qt call that returns nothing; the energy meter repaints ~50 times a second, so None's
count ran out and the app died (``Fatal Python error: none_dealloc``) after about 5 minutes
idle. Qt is driven here exactly as while the app runs: the meter repaints, the status and the
chat change, buttons toggle."""

from __future__ import annotations

import sys


def test_a_long_session_of_repaints_leaves_none_and_bools_intact(make_app, qtbot):
    controller = make_app()
    window = controller.window
    meter = window.meter
    counts = [sys.getrefcount(x) for x in (None, True, False)]
    for i in range(3000):  # a minute of the meter at 50 Hz, plus the rest of the window
        meter.set_level(-60.0 + (i % 40))
        meter.repaint()
        if i % 100 == 0:
            window.set_status(f"Ready {i}")
            window.stop_button.setEnabled(i % 200 == 0)
            window.speak_button.setChecked(False)
            qtbot.wait(1)
    drift = [sys.getrefcount(x) - c for x, c in zip((None, True, False), counts)]
    # 6.12.0 drifted None by about -10 per repaint here (-30000 over the loop); a few
    # references either way are objects alive at the moment of reading.
    assert all(d > -300 for d in drift), f"None/True/False references lost: {drift}"
    assert controller.state.value == "ready"
