"""llama.cpp's own OpenAI-compatible HTTP server (from the ``xllamacpp`` wheel) in a process
of its own, for tests and benchmarks: a real server to answer, refuse, stall and be killed.

    python -m testkit.llama_server MODEL.gguf --port N [--api-key KEY] [--mmproj P.gguf]
        [--ctx TOKENS] [--threads N] [--read-timeout S]

Prints ``listening`` once the model is loaded and the port is open; stops on SIGTERM.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from core.models.packaged import SMOLLM2_135M, assemble, default_cache_dir


def smollm2() -> Path:
    """The packaged SmolLM2-135M GGUF, assembled and verified (a dependency of the tests)."""
    return assemble(SMOLLM2_135M, default_cache_dir()) / SMOLLM2_135M.filename


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class LlamaServer:
    """A running ``python -m testkit.llama_server``; its stderr (llama.cpp's log) in a file."""

    def __init__(self, model: Path, log: Path, *options: str, port: int | None = None):
        self.port = port or free_port()
        self.log = log
        self.url = f"http://127.0.0.1:{self.port}/v1"
        with log.open("wb") as err:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "testkit.llama_server", str(model)]
                + ["--port", str(self.port), *options],
                stdout=subprocess.PIPE,
                stderr=err,
                cwd=Path(__file__).resolve().parent.parent,
                env={**os.environ, "OMP_NUM_THREADS": "1"},
            )
        line = self.process.stdout.readline()
        if b"listening" not in line:
            self.process.kill()
            self.process.wait()
            raise RuntimeError(
                f"llama.cpp server did not start: {log.read_text()[-2000:]}"
            )

    def slot(self) -> dict:
        import json
        import urllib.request

        with urllib.request.urlopen(
            f"http://127.0.0.1:{self.port}/slots", timeout=5
        ) as r:
            return json.load(r)[0]

    def wait_idle(self, timeout: float = 5.0) -> dict:
        """The slot once it stops processing (raises if it is still busy at the timeout)."""
        deadline = time.monotonic() + timeout
        while True:
            slot = self.slot()
            if not slot["is_processing"] or time.monotonic() > deadline:
                return slot
            time.sleep(0.02)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process.stdout.close()

    def kill(self) -> None:
        self.process.kill()
        self.process.wait()
        self.process.stdout.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("model")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--api-key")
    parser.add_argument("--mmproj")
    parser.add_argument("--ctx", type=int, default=2048)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--alias")
    parser.add_argument(
        "--read-timeout", type=int, help="seconds to wait for a request"
    )
    args = parser.parse_args()

    import xllamacpp

    params = xllamacpp.CommonParams()
    params.model.path = args.model
    params.hostnames = ["127.0.0.1"]
    params.port = args.port
    params.n_ctx = args.ctx
    params.n_parallel = 1
    params.cpuparams.n_threads = args.threads
    params.cpuparams_batch.n_threads = args.threads
    params.endpoint_slots = True  # tests read /slots to see generation has stopped
    params.warmup = False
    if args.read_timeout:
        params.timeout_read = args.read_timeout
    if args.alias:
        params.model_alias = args.alias
    if args.api_key:
        params.api_keys = [args.api_key]
    if args.mmproj:
        params.mmproj.path = args.mmproj
        params.mmproj_use_gpu = False
    stop = threading.Event()
    server = xllamacpp.Server(params)
    # after the server: it installs handlers of its own while it starts
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    print("listening", flush=True)
    stop.wait()
    del server
    sys.exit(0)


if __name__ == "__main__":
    main()
