"""Is the TTS service answering: GET /health, then POST /v1/audio/speech with real WAV checks.

Requests go through the API server's service proxy (``/api/v1/namespaces/NS/services/NAME:PORT/proxy/...``)
with ``cluster_client.ClusterClient``, so authentication, TLS and errors are the cluster client's; or,
for health only, straight to ``health_url`` with TLS verified. API shapes per fact serving-api: ``/health``
answers 200 ``{"status": "healthy"}`` once the engine runs (503 before); ``/v1/audio/speech`` takes JSON
``{"input", "voice", "language", "response_format"}`` and returns audio bytes.

The WAV judgement (``inspect_wav``) and the language guess are pure and unit-testable.
"""

from __future__ import annotations

import io
import json
import re
import ssl
import time
import urllib.error
import urllib.request
import wave
from collections.abc import Callable
from dataclasses import dataclass

from ansible_collections.local_llm.tts.plugins.module_utils.cluster_client import (
    ClusterClient,
    ClusterConfigError,
)

DEFAULT_SPEECH_TEXTS = ("你好，欢迎使用语音合成服务。", "Hello, the speech service is working.")  # noqa: RUF001 (Chinese punctuation is the point)
DEFAULT_VOICE = "vivian"
EXPECTED_FORMAT = {"rate": 24000, "channels": 1, "sample_width": 2}  # Qwen3-TTS: 24 kHz mono 16-bit
MIN_SECONDS, MAX_SECONDS = 0.3, 60.0
BACKOFF_FIRST, BACKOFF_MAX = 0.2, 5.0
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")


class CheckFailed(Exception):
    pass


# -- pure ---------------------------------------------------------------------------------------------
def language_of(text: str) -> str | None:
    """The ``language`` field for a text: Chinese when it has CJK ideographs, English when ASCII."""
    if _CJK.search(text):
        return "Chinese"
    if text.isascii():
        return "English"
    return None  # let the server detect it


def speech_request(text: str, voice: str) -> dict:
    body = {"input": text, "voice": voice, "response_format": "wav"}
    language = language_of(text)
    if language:
        body["language"] = language
    return body


def inspect_wav(audio: bytes) -> dict:
    """Format and duration of a WAV body; raises CheckFailed when it is not plausible speech."""
    if audio[:4] != b"RIFF" or audio[8:12] != b"WAVE":
        raise CheckFailed(f"not a RIFF/WAVE body (starts with {audio[:12]!r}, {len(audio)} bytes)")
    try:
        with wave.open(io.BytesIO(audio)) as wav:
            info = {
                "rate": wav.getframerate(),
                "channels": wav.getnchannels(),
                "sample_width": wav.getsampwidth(),
                "frames": wav.getnframes(),
            }
    except (wave.Error, EOFError) as exc:
        raise CheckFailed(f"unreadable WAV: {exc}") from None
    got = {k: info[k] for k in EXPECTED_FORMAT}
    if got != EXPECTED_FORMAT:
        raise CheckFailed(f"WAV format {got}, expected {EXPECTED_FORMAT}")
    duration = info["frames"] / info["rate"]
    if not MIN_SECONDS < duration < MAX_SECONDS:
        raise CheckFailed(
            f"implausible speech duration {duration:.2f}s (expected {MIN_SECONDS}-{MAX_SECONDS}s)"
        )
    return {**info, "duration_seconds": round(duration, 3)}


def proxy_path(namespace: str, service: str, port: int, path: str) -> str:
    return f"/api/v1/namespaces/{namespace}/services/{service}:{port}/proxy/{path.lstrip('/')}"


# -- transports -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes
    content_type: str


Transport = Callable[[str, str, dict | None, float], Reply]  # (method, path, json body, timeout)


def service_proxy_transport(cluster: ClusterClient, namespace: str, service: str, port: int) -> Transport:
    """Requests through the API server's service proxy with the cluster client (auth, TLS, CONFIG: errors);
    the service's own answers, 5xx included, are returned as they are (``check_health`` retries)."""

    def send(method: str, path: str, body: dict | None, timeout: float) -> Reply:
        response = cluster.request(
            method,
            proxy_path(namespace, service, port, path),
            body=body,
            headers={"Accept": "*/*"},
            timeout=timeout,
            retry_seconds=0,
        )
        return Reply(response.status, response.data or b"", response.headers.get("Content-Type", ""))

    return send


def url_transport(base_url: str) -> Transport:
    """Plain HTTP(S) to ``base_url`` (TLS verified with the system's CAs)."""
    context = ssl.create_default_context()

    def send(method: str, path: str, body: dict | None, timeout: float) -> Reply:
        url = base_url if not path else base_url.rstrip("/") + "/" + path.lstrip("/")
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            url, data=data, method=method, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout, context=context) as response:
                return Reply(response.status, response.read(), response.headers.get("Content-Type", ""))
        except urllib.error.HTTPError as exc:
            return Reply(exc.code, exc.read(), exc.headers.get("Content-Type", ""))

    return send


# -- checks -----------------------------------------------------------------------------------------------
def _short(body: bytes) -> str:
    return body.decode("utf-8", errors="replace").strip().replace("\n", " ")[:200]


def check_health(send: Transport, timeout: float, path: str = "health") -> dict:
    """GET /health until 200 or ``timeout`` (doubling back-off); returns attempts and the last answer."""
    deadline = time.monotonic() + timeout
    delay, attempts, last = BACKOFF_FIRST, 0, "no answer"
    while True:
        attempts += 1
        try:
            reply = send("GET", path, None, max(1.0, min(10.0, deadline - time.monotonic())))
            if reply.status == 200:
                return {"health": "ok", "attempts": attempts}
            last = f"HTTP {reply.status}: {_short(reply.body)}"
        except ClusterConfigError:  # 401/403, TLS, unreachable API server: no point retrying
            raise
        except Exception as exc:  # connection refused, TLS, timeouts: retried like a 503
            last = f"{type(exc).__name__}: {exc}"
        if time.monotonic() + delay > deadline:
            return {
                "health": f"failed after {attempts} attempts in {timeout:g}s: {last}",
                "attempts": attempts,
            }
        time.sleep(delay)
        delay = min(delay * 2, BACKOFF_MAX)


def check_speech(send: Transport, text: str, voice: str, timeout: float) -> dict:
    request = speech_request(text, voice)
    started = time.monotonic()
    try:
        reply = send("POST", "v1/audio/speech", request, timeout)
    except ClusterConfigError:
        raise
    except Exception as exc:
        return {"text": text, "ok": False, "error": f"{type(exc).__name__}: {exc}"}
    latency_ms = round((time.monotonic() - started) * 1000, 1)
    result = {"text": text, "voice": voice, "language": request.get("language"), "latency_ms": latency_ms}
    if reply.status != 200:
        return {**result, "ok": False, "error": f"HTTP {reply.status}: {_short(reply.body)}"}
    try:
        audio = inspect_wav(reply.body)
    except CheckFailed as exc:
        return {**result, "ok": False, "error": str(exc)}
    return {**result, "ok": True, "duration_seconds": audio["duration_seconds"], "bytes": len(reply.body)}


def run_checks(
    send: Transport,
    timeout: float,
    verify_speech: bool = True,
    speech_texts: tuple[str, ...] | list[str] = DEFAULT_SPEECH_TEXTS,
    voice: str = DEFAULT_VOICE,
    health_send: Transport | None = None,
) -> dict:
    """Health first; speech only once healthy. ``failed`` + ``msg`` say which check failed and why."""
    health = check_health(health_send or send, timeout, "" if health_send else "health")
    result = {"health": health["health"], "health_attempts": health["attempts"], "speech": []}
    if health["health"] != "ok":
        return {**result, "failed": True, "msg": f"health check failed: {health['health']}"}
    if verify_speech:
        result["speech"] = [check_speech(send, text, voice, max(timeout, 30.0)) for text in speech_texts]
        bad = [s for s in result["speech"] if not s["ok"]]
        if bad:
            details = "; ".join(f"{s['text']!r}: {s['error']}" for s in bad)
            return {**result, "failed": True, "msg": f"speech check failed: {details}"}
    return {**result, "failed": False, "msg": "service healthy" + (" and speaking" if verify_speech else "")}
