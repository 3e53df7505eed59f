"""Real servers for desktop tests: a private X server (Xvfb) that xdotool drives with XTest
keys, which X treats as a keyboard's own (passive grabs fire, held keys auto-repeat), and a
private PulseAudio server whose default source is a null sink's monitor, so a clip played
into the sink arrives through the app's real capture path (no sound card needed)."""

from __future__ import annotations

import contextlib
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np


@dataclass
class XServer:
    name: str
    process: subprocess.Popen

    def run(self, *command: str, timeout: float = 10) -> str:
        env = {**os.environ, "DISPLAY": self.name}
        done = subprocess.run(
            command,
            env=env,
            check=True,
            timeout=timeout,
            capture_output=True,
            text=True,
        )
        return done.stdout

    def xdotool(self, *args: str, timeout: float = 10) -> str:
        return self.run("xdotool", *args, timeout=timeout)


@contextlib.contextmanager
def xvfb(size: str = "640x480x24") -> Iterator[XServer]:
    """A private Xvfb with the server's default key auto-repeat (on)."""
    for tool in ("Xvfb", "xdotool"):
        if not shutil.which(tool):
            raise RuntimeError(
                f"{tool} is missing: apt-get install xvfb xdotool (scripts/setup --tests does)"
            )
    read_end, write_end = os.pipe()
    process = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write_end), "-nolisten", "tcp", "-noreset",
         "-screen", "0", size],
        pass_fds=(write_end,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    os.close(write_end)
    # Xvfb writes its display number, then a newline, once it accepts connections. Read to
    # the newline: closing the pipe early kills it ("Cannot write display number").
    written = b""
    try:
        while not written.endswith(b"\n"):
            ready, _, _ = select.select([read_end], [], [], 20)
            piece = os.read(read_end, 16) if ready else b""
            if not piece:
                raise RuntimeError("Xvfb did not start")
            written += piece
    except BaseException:
        process.kill()
        process.wait(10)
        raise
    finally:
        os.close(read_end)
    try:
        yield XServer(f":{written.decode().strip()}", process)
    finally:
        process.terminate()
        process.wait(10)


@contextlib.contextmanager
def pulseaudio(runtime: Path) -> Iterator[dict[str, str]]:
    """A private PulseAudio server; yields the environment that reaches it (sink ``vsink``)."""
    for tool in ("pulseaudio", "pactl", "pacat", "paplay"):
        if not shutil.which(tool):
            raise RuntimeError(
                f"{tool} is missing: apt-get install pulseaudio pulseaudio-utils"
            )
    env = {**os.environ, "XDG_RUNTIME_DIR": str(runtime), "HOME": str(runtime)}
    env.pop("PULSE_SERVER", None)
    server = subprocess.Popen(
        ["pulseaudio", "-n", "--daemonize=no", "--exit-idle-time=-1",
         "--disable-shm=yes", "--load=module-native-protocol-unix",
         "--load=module-null-sink sink_name=vsink rate=16000 channels=1 format=s16le"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    keeper = None
    try:
        deadline = time.monotonic() + 10
        while (
            subprocess.run(
                ["pactl", "info"], check=False, env=env, capture_output=True
            ).returncode
            != 0
        ):
            if time.monotonic() > deadline or server.poll() is not None:
                raise RuntimeError("PulseAudio did not start")
            time.sleep(0.1)
        subprocess.run(
            ["pactl", "set-default-source", "vsink.monitor"], env=env, check=True
        )
        # Keep the sink running, so the monitor delivers a steady stream between clips.
        keeper = subprocess.Popen(
            ["pacat", "--playback", "--device=vsink", "--raw", "/dev/zero"], env=env
        )
        yield env
    finally:
        for process in (keeper, server):
            if process is not None:
                process.terminate()
                process.wait(10)


@contextlib.contextmanager
def sounddevice_on(env: dict[str, str]) -> Iterator[Any]:
    """sounddevice looking at the private PulseAudio server of ``env`` (PortAudio lists
    devices once, so it is initialised again, now and after)."""
    saved = os.environ.get("XDG_RUNTIME_DIR")
    os.environ["XDG_RUNTIME_DIR"] = env["XDG_RUNTIME_DIR"]
    import sounddevice

    sounddevice._terminate()
    sounddevice._initialize()
    try:
        yield sounddevice
    finally:
        if saved is None:
            os.environ.pop("XDG_RUNTIME_DIR", None)
        else:
            os.environ["XDG_RUNTIME_DIR"] = saved
        sounddevice._terminate()
        sounddevice._initialize()


class Recording:
    """What the null sink plays, recorded from its monitor in 10 ms blocks, each with the
    time it arrived."""

    RATE = 16000

    def __init__(self, sounddevice: Any) -> None:
        self.blocks: list[tuple[float, np.ndarray]] = []
        self.stream = sounddevice.InputStream(
            samplerate=self.RATE,
            channels=1,
            dtype="float32",
            blocksize=self.RATE // 100,
            latency="low",
            callback=lambda data, frames, t, status: self.blocks.append(
                (time.monotonic(), data[:, 0].copy())
            ),
        )
        self.stream.start()
        # A new server's monitor takes a moment to deliver its first block.
        deadline = time.monotonic() + 5
        while not self.blocks and time.monotonic() < deadline:
            time.sleep(0.01)

    def stop(self) -> np.ndarray:
        self.stream.stop()
        self.stream.close()
        return np.concatenate([b for _, b in self.blocks])

    def last_sound_at(self, threshold_dbfs: float = -45.0) -> float:
        """When the last block louder than the threshold arrived here: an upper bound on
        when it was played (it also counts the capture path's own delay)."""
        loud = [
            at
            for at, block in self.blocks
            if 20 * np.log10(np.sqrt(np.mean(block**2)) + 1e-12) > threshold_dbfs
        ]
        assert loud, "nothing was heard"
        return loud[-1]


@contextlib.contextmanager
def sway_headless() -> Iterator[dict[str, str]]:
    """A private headless Wayland compositor (sway, wlroots: it has the virtual-keyboard
    protocol wtype uses); yields ``WAYLAND_DISPLAY`` (an absolute path) for its clients.

    sway refuses to run as root, so as root it runs as ``nobody``, in a folder of its own
    under /tmp (a root client reaches its socket all the same)."""
    if not shutil.which("sway"):
        raise RuntimeError("sway is missing: apt-get install sway wtype wl-clipboard")
    home = Path(tempfile.mkdtemp(prefix="ptt-sway-"))
    runtime = home / "run"
    runtime.mkdir(mode=0o700)
    config = home / "sway.conf"
    config.write_text("output HEADLESS-1 resolution 1024x768\n")
    as_user: list[str] = []
    if os.getuid() == 0:
        home.chmod(0o755)
        os.chown(runtime, 65534, 65534)
        as_user = ["runuser", "-u", "nobody", "--"]
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(runtime),
        "XDG_RUNTIME_DIR": str(runtime),
        "WLR_BACKENDS": "headless",
        "WLR_LIBINPUT_NO_DEVICES": "1",
        "WLR_RENDERER": "pixman",
    }
    log_path = home / "sway.log"
    with log_path.open("w") as log:
        server = subprocess.Popen(
            [*as_user, "env", *(f"{k}={v}" for k, v in env.items()), "sway", "-c",
             str(config)],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    socket = runtime / "wayland-1"
    try:
        deadline = time.monotonic() + 15
        while not socket.exists():
            if time.monotonic() > deadline or server.poll() is not None:
                raise RuntimeError(f"sway did not start: {log_path.read_text()}")
            time.sleep(0.05)
        yield {"WAYLAND_DISPLAY": str(socket)}
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGTERM)
        server.wait(10)
        shutil.rmtree(home, ignore_errors=True)


@dataclass
class PortalBus:
    env: dict[str, str]  # DBUS_SESSION_BUS_ADDRESS, for the app
    portal: subprocess.Popen

    def call(self, member: str, *args: str) -> str | None:
        """An order to the fake portal: Press, Release, Rebind(trigger), Calls."""
        return self.send(
            "org.freedesktop.portal.Desktop",
            "/org/freedesktop/portal/desktop",
            "org.pttassistant.FakePortal",
            member,
            "s" * len(args),
            args,
        )

    def send(
        self,
        service: str,
        path: str,
        interface: str,
        member: str,
        signature: str = "",
        args: tuple = (),
    ) -> Any:
        """A method call on the bus; the reply's first value (None for none)."""
        from jeepney import DBusAddress, new_method_call
        from jeepney.io.blocking import open_dbus_connection
        from jeepney.wrappers import unwrap_msg

        address = DBusAddress(path, service, interface)
        with open_dbus_connection(self.env["DBUS_SESSION_BUS_ADDRESS"]) as connection:
            message = new_method_call(address, member, signature or None, args)
            reply = unwrap_msg(connection.send_and_get_reply(message, timeout=10))
        return reply[0] if reply else None


@contextlib.contextmanager
def dbus_session(*portal_args: str, tray: bool = False) -> Iterator[PortalBus]:
    """A private D-Bus session bus with a fake desktop portal on it (``testkit.fake_portal``,
    given ``portal_args``), and with ``tray`` a fake tray host (``testkit.fake_tray_host``)."""
    if not shutil.which("dbus-daemon"):
        raise RuntimeError("dbus-daemon is missing: apt-get install dbus-daemon")
    home = Path(tempfile.mkdtemp(prefix="ptt-dbus-"))
    address = f"unix:path={home / 'bus'}"
    bus = subprocess.Popen(
        ["dbus-daemon", "--session", "--nofork", "--nopidfile", f"--address={address}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    fakes: list[subprocess.Popen] = []
    try:
        deadline = time.monotonic() + 10
        while not (home / "bus").exists():
            if time.monotonic() > deadline or bus.poll() is not None:
                raise RuntimeError("dbus-daemon did not start")
            time.sleep(0.02)
        modules = [("testkit.fake_portal", portal_args)]
        if tray:
            modules.append(("testkit.fake_tray_host", ()))
        for module, args in modules:
            fake = subprocess.Popen(
                [sys.executable, "-m", module, address, *args],
                stdout=subprocess.PIPE,
                text=True,
                cwd=Path(__file__).resolve().parent.parent,
            )
            fakes.append(fake)
            ready, _, _ = select.select([fake.stdout], [], [], 15)
            if not ready or "ready" not in fake.stdout.readline():
                raise RuntimeError(f"{module} did not start")
        yield PortalBus({"DBUS_SESSION_BUS_ADDRESS": address}, fakes[0])
    finally:
        for process in (*fakes, bus):
            if process.poll() is None:
                process.terminate()
                process.wait(10)
        for fake in fakes:
            fake.stdout.close()
        shutil.rmtree(home, ignore_errors=True)
