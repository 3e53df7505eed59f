"""The server backend against a real OpenAI-compatible server: llama.cpp's own HTTP server
(the ``xllamacpp`` wheel) in a process of its own, serving the packaged SmolLM2-135M on one
thread. Its answers are meaningless; the path is the one a user's vLLM, llama.cpp server or
Ollama takes: HTTP, server-sent events, the official client, the engine's chunks."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
import time

import openai
import pytest

from core import StreamingEngine, load_config
from core.config import ConfigError, ServerSettings
from core.errors import EngineError, ErrorCode
from core.pipelines.server.client import ServerChat
from core.pipelines.server.failures import request_failure
from testkit import paths
from testkit.llama_server import LlamaServer, free_port, smollm2
from testkit.netguard import MARK
from testkit.tiny_projector import AUDIO_TOKENS_PER_WINDOW, build_tiny_audio_projector
from testkit.voices import speak
from tests.conftest import collect, thread_names

ROOT = paths.ROOT
QUESTION = "What is the capital of Japan?"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    running = LlamaServer(smollm2(), tmp_path_factory.mktemp("llama") / "server.log")
    yield running
    running.stop()


@pytest.fixture(scope="module")
def question():
    return speak(QUESTION)


def server_config(url: str, **settings):
    return load_config(
        overrides={
            "model": {"id": "test-server"},
            "servers": {"test-server": {"url": url, **settings}},
            "chunked_response": {"generation": {"max_new_tokens": 48}},
        }
    )


def long_story_config(url: str):
    """One word per chunk and an answer that goes on: something to cut off mid-way."""
    return load_config(
        overrides={
            "model": {"id": "test-server"},
            "servers": {"test-server": {"url": url}},
            "chunked_response": {
                "chunk_size_words": 1,
                "generation": {"max_new_tokens": 2000},
            },
            "prompts": {"conversation": "Tell a very long story. Never stop."},
        }
    )


async def loaded(config) -> StreamingEngine:
    engine = StreamingEngine(config)
    await engine.initialize()
    return engine


@pytest.fixture(scope="module")
def engine(server):
    engine = StreamingEngine(server_config(server.url, timeout_s=30))
    asyncio.run(engine.initialize())
    yield engine
    asyncio.run(engine.close())


async def final_item(engine, samples, rate, chunk_id) -> dict:
    items = await collect(
        engine.process_realtime_chunk_streaming(samples, chunk_id, sample_rate=rate)
    )
    return items[-1]


def words(text: str) -> list[str]:
    return text.split()


def server_answer(url: str, messages: list[dict], max_tokens: int) -> str:
    """The same request, answered in one piece (no streaming, no chunker): the reference."""
    client = openai.OpenAI(base_url=url, api_key="none")
    reply = client.chat.completions.create(
        model="any", messages=messages, max_tokens=max_tokens, temperature=0.0
    )
    client.close()
    return reply.choices[0].message.content


async def test_a_spoken_question_streams_the_servers_answer_in_chunks(
    engine, server, question
):
    engine.clear_history()
    samples, rate = question
    items = await collect(
        engine.process_realtime_chunk_streaming(samples, "q1", sample_rate=rate)
    )
    final = items[-1]
    assert final["success"], final
    assert "capital of japan" in final["heard"].lower()
    chunks = [item["text"] for item in items if item["text"]]
    assert all(len(words(c)) == 4 for c in chunks[:-1])  # chunk_size_words
    reference = server_answer(
        server.url,
        [
            {"role": "system", "content": engine.config.prompts.conversation},
            {"role": "user", "content": final["heard"]},
        ],
        48,
    )
    # Every word the server sent, in order, nothing lost or doubled.
    assert words(" ".join(chunks)) == words(reference)
    timings = final["timings"]
    # the server also counts the end-of-answer token, which carries no text
    assert timings["completion_tokens"] - 1 <= final["generated_tokens"] > 0
    assert timings["prompt_tokens"] > 10
    assert timings["prefill_ms"] > 0 and timings["server_tokens_per_s"] > 0
    assert timings["recognition_ms"] > 0


async def test_memory_sends_earlier_turns_as_messages(engine, question):
    engine.clear_history()
    samples, rate = question
    first = await final_item(engine, samples, rate, "m1")
    second = await final_item(engine, samples, rate, "m2")
    assert first["success"] and second["success"]
    # The second prompt holds the first question and answer before the same question again.
    grown = second["timings"]["prompt_tokens"] - first["timings"]["prompt_tokens"]
    assert grown >= first["generated_tokens"] + 5
    assert len(engine.history) == 2 and engine.history[0].user_text == first["heard"]


async def test_a_typed_question_goes_to_the_server_as_text(engine):
    engine.clear_history()
    items = [i async for i in engine.process_text_streaming("Name a colour.", "typed")]
    final = items[-1]
    assert final["success"], final
    assert any(i["text"] for i in items)
    assert final["timings"]["typed"] and final["timings"]["prompt_tokens"] > 5
    assert engine.history[-1].user_text == "Name a colour."
    engine.clear_history()


async def test_transcribe_mode_is_the_local_recogniser(engine, question):
    samples, rate = question
    items = await collect(
        engine.process_realtime_chunk_streaming(
            samples, "t1", mode="transcribe", sample_rate=rate
        )
    )
    text = " ".join(i["text"] for i in items if i["text"]).lower()
    assert "capital of japan" in text and items[-1]["success"]


async def test_barge_in_closes_the_stream_and_the_server_stops_generating(
    server, question
):
    config = long_story_config(server.url)
    engine = await loaded(config)
    samples, rate = question
    log_before = server.log.read_text(errors="replace").count("cancel task")
    stream = engine.process_realtime_chunk_streaming(samples, "b1", sample_rate=rate)
    seen = 0
    async for item in stream:
        seen += 1
        if seen == 3:
            break
    closed_at = time.perf_counter()
    await stream.aclose()
    stopped_s = time.perf_counter() - closed_at
    slot = server.wait_idle(2.0)
    assert not slot["is_processing"], "the server kept generating after the barge-in"
    assert slot["next_token"][0]["n_decoded"] < 200  # far from the 2000 it was allowed
    assert stopped_s < 0.5
    log = server.log.read_text(errors="replace")
    assert log.count("cancel task") == log_before + 1
    await engine.close()
    assert "ptt-server-cancel" not in thread_names()


async def test_barge_in_during_a_long_prefill_frees_the_server(server, question):
    """Cut before any token came: the server is still reading the prompt. The client lets
    go at once; llama.cpp cancels the task when its current prompt batch is done (seconds
    on one CPU thread, milliseconds on a GPU) and never starts the answer."""
    config = server_config(server.url)
    long_prompt = "Answer briefly. " + " ".join(
        f"Note {i}: nothing." for i in range(40)
    )
    config = config.model_copy(
        update={
            "prompts": config.prompts.model_copy(update={"conversation": long_prompt})
        }
    )
    engine = await loaded(config)
    samples, rate = question
    cancels = server.log.read_text(errors="replace").count("cancel task")
    task = asyncio.ensure_future(
        collect(
            engine.process_realtime_chunk_streaming(samples, "p1", sample_rate=rate)
        )
    )
    deadline = time.monotonic() + 10  # recognition, then a prefill of ~1000 tokens
    while not server.slot()["is_processing"]:
        assert not task.done(), task.result()[-1]
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.3)
    cut_at = time.perf_counter()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert time.perf_counter() - cut_at < 0.5
    slot = server.wait_idle(15.0)
    assert not slot["is_processing"]
    assert slot["next_token"][0]["n_decoded"] <= 1  # of the 48 it was allowed
    assert server.log.read_text(errors="replace").count("cancel task") == cancels + 1
    await engine.close()


async def test_unreachable_server_then_it_comes_up_and_the_next_turn_works(
    tmp_path, question
):
    port = free_port()
    engine = await loaded(server_config(f"http://127.0.0.1:{port}", timeout_s=20))
    samples, rate = question
    final = await final_item(engine, samples, rate, "u1")
    assert final["error"] == ErrorCode.SERVER_UNREACHABLE
    assert f"127.0.0.1:{port}" in final["message"] and "refused" in final["message"]
    late = LlamaServer(smollm2(), tmp_path / "late.log", port=port)
    try:
        final = await final_item(engine, samples, rate, "u2")
        assert final["success"], final
        late.stop()
        final = await final_item(engine, samples, rate, "u3")
        assert final["error"] == ErrorCode.SERVER_UNREACHABLE
    finally:
        late.stop()
        await engine.close()


async def test_wrong_key_names_the_variable(tmp_path, question, monkeypatch):
    keyed = LlamaServer(smollm2(), tmp_path / "keyed.log", "--api-key", "right-key")
    try:
        monkeypatch.setenv("PTT_TEST_KEY", "wrong-key")
        engine = await loaded(server_config(keyed.url, api_key_env="PTT_TEST_KEY"))
        samples, rate = question
        final = await final_item(engine, samples, rate, "k1")
        assert final["error"] == ErrorCode.SERVER_AUTH
        assert "PTT_TEST_KEY" in final["message"] and "401" in final["message"]
        assert "wrong-key" not in final["message"] + final["detail"]
        await engine.close()
        monkeypatch.setenv("PTT_TEST_KEY", "right-key")
        engine = await loaded(server_config(keyed.url, api_key_env="PTT_TEST_KEY"))
        final = await final_item(engine, samples, rate, "k2")
        assert final["success"], final
        await engine.close()
    finally:
        keyed.stop()


async def test_a_prompt_over_the_context_is_prompt_too_long(server, question):
    config = server_config(server.url)
    huge = "Read this. " + "word " * 3000  # over the server's 2048-token context
    config = config.model_copy(
        update={"prompts": config.prompts.model_copy(update={"conversation": huge})}
    )
    engine = await loaded(config)
    samples, rate = question
    final = await final_item(engine, samples, rate, "c1")
    assert final["error"] == ErrorCode.PROMPT_TOO_LONG
    assert "400" in final["message"] and "context" in final["message"].lower()
    await engine.close()


async def test_a_server_killed_mid_answer_is_stream_interrupted(tmp_path, question):
    doomed = LlamaServer(smollm2(), tmp_path / "doomed.log")
    config = long_story_config(doomed.url)
    engine = await loaded(config)
    samples, rate = question
    items = []
    try:
        async for item in engine.process_realtime_chunk_streaming(
            samples, "d1", sample_rate=rate
        ):
            items.append(item)
            if len(items) == 3:
                doomed.kill()
    finally:
        doomed.kill() if doomed.process.poll() is None else None
        await engine.close()
    final = items[-1]
    assert final["error"] == ErrorCode.STREAM_INTERRUPTED, final
    assert len(items) > 3  # the words before the cut were shown


async def test_a_stalled_server_is_a_timeout(server, question):
    """Another client holds the one slot; this turn's request waits with nothing sent.
    The server's own ``timeout_s`` governs, even when longer than the engine's default
    limit on silence (``streamer_timeout_s``), and the error names it."""
    config = load_config(
        overrides={
            "model": {"id": "test-server"},
            "servers": {"test-server": {"url": server.url, "timeout_s": 1.5}},
            "chunked_response": {"streamer_timeout_s": 0.5},
        }
    )
    engine = await loaded(config)
    hog = openai.OpenAI(base_url=server.url, api_key="none")
    stop = threading.Event()

    def hold_the_slot():
        stream = hog.chat.completions.create(
            model="any",
            messages=[{"role": "user", "content": "Tell a very long story."}],
            max_tokens=2000,
            stream=True,
            extra_body={"ignore_eos": True},  # holds the slot until stopped below
        )
        for _ in stream:
            if stop.is_set():
                break
        stream.close()

    holder = threading.Thread(target=hold_the_slot)
    holder.start()
    try:
        await asyncio.sleep(0.3)
        samples, rate = question
        started = time.perf_counter()
        final = await final_item(engine, samples, rate, "s1")
        assert final["error"] == ErrorCode.TIMEOUT
        assert "timeout_s" in final["detail"]
        assert 1.4 < time.perf_counter() - started < 6
    finally:
        stop.set()
        holder.join()
        hog.close()
        await engine.close()


async def test_a_wrong_path_is_a_404_that_says_what_to_check(server, question):
    url = server.url.removesuffix("/v1") + "/wrong/v1"
    engine = await loaded(server_config(url, model="smollm2"))
    samples, rate = question
    final = await final_item(engine, samples, rate, "n1")
    assert final["error"] == ErrorCode.MODEL_NOT_FOUND
    assert "404" in final["message"] and "servers.test-server.url" in final["message"]
    await engine.close()


async def test_https_to_a_plain_http_server_is_a_tls_error(tmp_path, question):
    """llama.cpp's wheel has no TLS; speaking TLS to its plain HTTP fails the handshake
    for real (it drops a request it cannot read after --read-timeout)."""
    plain = LlamaServer(smollm2(), tmp_path / "plain.log", "--read-timeout", "1")
    try:
        engine = await loaded(server_config(plain.url.replace("http://", "https://")))
        samples, rate = question
        started = time.perf_counter()
        final = await final_item(engine, samples, rate, "tls")
        assert final["error"] == ErrorCode.SERVER_TLS, final
        assert "TLS" in final["message"] and "SSL_CERT_FILE" in final["message"]
        assert time.perf_counter() - started < 5
        await engine.close()
    finally:
        plain.stop()


async def test_audio_in_sends_the_clip_itself(tmp_path, question):
    """``input: audio`` against llama.cpp started with an audio projector (a tiny
    random-weight one shaped like Qwen2-Audio's): the clip reaches the server as an
    ``input_audio`` part and becomes audio tokens of the prompt. The answer itself is
    meaningless (random weights), so only its streaming is checked."""
    projector = build_tiny_audio_projector(tmp_path / "mmproj.gguf")
    hearing = LlamaServer(
        smollm2(),
        tmp_path / "hearing.log",
        "--mmproj",
        str(projector),
        "--threads",
        "2",
    )
    try:
        config = server_config(
            hearing.url, input="audio", options={"ignore_eos": True}, timeout_s=120
        )
        engine = await loaded(config)
        assert engine.pipeline.recognizer is None  # nothing is recognised here
        samples, rate = question
        final = await final_item(engine, samples, rate, "a1")
        assert final["success"], final
        assert final["heard"] is None
        assert final["timings"]["prompt_tokens"] >= AUDIO_TOKENS_PER_WINDOW
        assert final["timings"]["completion_tokens"] == 48  # ignore_eos: all of them
        assert engine.history[-1].user_audio is not None  # remembered as audio
        await engine.close()
    finally:
        hearing.stop()


def test_requests_go_only_to_the_configured_host(server):
    """ptt-ask through the server, with every other internet connect refused and reported."""
    env_config = ROOT / "config.yaml"
    result = subprocess.run(  # noqa: PLW1510 - the return code is asserted below
        [sys.executable, "-m", "testkit.netguard", "core.cli"]
        + [str(ROOT / "resources" / "sample-question.wav"), "--model", server.url]
        + ["--config", str(env_config)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        env={
            **__import__("os").environ,
            "PTT_NETGUARD_ALLOW": f"127.0.0.1:{server.port}",
        },
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert MARK not in result.stderr
    assert result.stdout.strip()


def test_busy_and_server_errors_map_to_their_codes():
    """What 429/503/500/404 responses mean (real openai exceptions built from real httpx
    responses; producing them from llama.cpp on demand is not possible)."""
    import httpx2 as httpx

    settings = ServerSettings(url="http://127.0.0.1:1/v1", model="m", api_key_env="K")
    request = httpx.Request("POST", "http://127.0.0.1:1/v1/chat/completions")

    def status(code: int, message: str) -> openai.APIStatusError:
        response = httpx.Response(
            code, json={"error": {"message": message}}, request=request
        )
        return openai.OpenAI(
            base_url=settings.url, api_key="x"
        )._make_status_error_from_response(response)

    cases = {
        429: ErrorCode.SERVER_BUSY,
        503: ErrorCode.SERVER_BUSY,
        500: ErrorCode.SERVER_ERROR,
        403: ErrorCode.SERVER_AUTH,
        404: ErrorCode.MODEL_NOT_FOUND,
    }
    for code, expected in cases.items():
        failure = request_failure(
            "s", settings, status(code, "nope"), lambda: ["a", "b"]
        )
        assert failure.code == expected, code
    missing = request_failure(
        "s", settings, status(404, "no such model"), lambda: ["a", "b"]
    )
    assert "it serves: a, b" in missing.detail
    # vLLM's refusal of an answer length is not a prompt that is too long
    length = request_failure(
        "s",
        settings,
        status(
            400,
            "'max_tokens' is too large: 9000. This model's maximum context length is 8192",
        ),
        list,
    )
    assert length.code == ErrorCode.SERVER_ERROR
    assert "max_new_tokens" in length.detail


def turn_error(chat: ServerChat) -> EngineError:
    """The error item one short turn through ``chat`` ends in."""
    with pytest.raises(EngineError) as caught:
        chat.stream(
            [{"role": "user", "content": "hi"}],
            {},
            lambda t, n: None,
            threading.Event(),
        )
    return caught.value


def test_a_busy_server_gets_one_retry_then_busy(monkeypatch):
    """One retry after the Retry-After pause, then server_busy (the openai client's own
    retries are off)."""
    import httpx2 as httpx

    attempts = []

    def handler(request: httpx.Request) -> httpx.Response:
        attempts.append(time.perf_counter())
        return httpx.Response(
            503, headers={"retry-after": "0.2"}, json={"error": {"message": "loading"}}
        )

    chat = ServerChat("busy", ServerSettings(url="http://127.0.0.1:1/v1", model="m"))
    chat.client = chat.client.with_options(
        http_client=openai.DefaultHttpxClient(transport=httpx.MockTransport(handler))
    )
    assert turn_error(chat).code == ErrorCode.SERVER_BUSY
    assert len(attempts) == 2 and attempts[1] - attempts[0] >= 0.2
    chat.close()


def test_the_server_benchmark_runs(tmp_path):
    """benchmarks.server_backend, one short round: it measures both sides."""
    out = tmp_path / "server.json"
    subprocess.run(
        [sys.executable, "-m", "benchmarks.server_backend", "--rounds", "1"]
        + ["--tokens", "16", "--out", str(out)],
        check=True,
        cwd=ROOT,
        timeout=300,
        capture_output=True,
    )
    result = json.loads(out.read_text())
    for side in ("raw", "engine"):
        assert 0 < result[side]["first_token_ms"] < result[side]["first_4_words_ms"]
        assert result[side]["tokens_per_s"] > 1
    assert 0.3 < result["throughput_ratio"] < 3


def seen_headers(chat: ServerChat) -> dict:
    """The headers ``chat`` sends, caught at the transport (the network boundary)."""
    import httpx2 as httpx

    seen = {}

    def handler(request: httpx.Request) -> httpx.Response:
        seen.update(request.headers)
        return httpx.Response(
            200, json={"object": "list", "data": [{"id": "m", "object": "model"}]}
        )

    chat._lister = chat._lister.with_options(
        http_client=openai.DefaultHttpxClient(transport=httpx.MockTransport(handler))
    )
    chat.models()
    return seen


def test_only_the_configured_key_is_sent(monkeypatch):
    """Not a key the openai client would pick up from OPENAI_* variables meant for OpenAI."""
    monkeypatch.setenv(
        "OPENAI_CUSTOM_HEADERS",
        "Authorization: Bearer sk-not-for-you\nX-Secret: s1\nx-other:s2",
    )
    monkeypatch.setenv("OPENAI_ORG_ID", "org-not-for-you")
    monkeypatch.setenv("MY_KEY", "right-key\r\n")  # as read from a CRLF .env file
    settings = ServerSettings(url="http://127.0.0.1:1/v1", api_key_env="MY_KEY")
    headers = seen_headers(ServerChat("s", settings))
    assert headers["authorization"] == "Bearer right-key"
    assert "openai-organization" not in headers
    assert "x-secret" not in headers and "x-other" not in headers
    keyless = seen_headers(ServerChat("s", ServerSettings(url="http://127.0.0.1:1/v1")))
    assert keyless["authorization"] == "Bearer none"  # a placeholder, never another key


def test_an_unusable_key_is_named_never_shown(monkeypatch):
    monkeypatch.setenv("MY_KEY", "sk-sec\u00e9ret")
    chat = ServerChat(
        "s", ServerSettings(url="http://127.0.0.1:1/v1", api_key_env="MY_KEY")
    )
    error = turn_error(chat)
    assert error.code == ErrorCode.SERVER_AUTH
    assert "MY_KEY" in error.detail and "sec" not in error.detail
    assert "MY_KEY" in chat.probe()
    chat.close()


def test_a_password_in_the_url_is_refused_and_never_shown():
    """httpx would send it as Basic auth in place of the key, and every status line and
    error would show it: a URL with user info is a config error that does not echo it."""
    for overrides in (
        {"servers": {"s": {"url": "http://user:hunter2@127.0.0.1:8080/v1"}}},
        {"model": {"id": "http://user:hunter2@127.0.0.1:8080"}},
    ):
        with pytest.raises(ConfigError) as caught:
            load_config(overrides=overrides)
        assert "user name or password" in str(caught.value)
        assert "hunter2" not in str(caught.value)
