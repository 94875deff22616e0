"""Real HTTP listeners for simulated containers: the vLLM(-Omni) OpenAI server and a plain "ok" server.

``ModelServer`` answers like vLLM-Omni's API server (fact serving-api): ``GET /health`` (503 until the
model is loaded, then 200; the ``health-flapping`` fault alternates them, ``engine-dead`` keeps them
503), ``GET /v1/models``, and for a speech model ``GET /v1/audio/voices`` and
``POST /v1/audio/speech``, which returns real 24 kHz mono 16-bit audio: a deterministic tone per
character whose length grows with the input. The sandbox encodes only ``wav`` and ``pcm``;
``mp3``/``flac``/``aac`` are valid API values but get a 400 here.
"""

from __future__ import annotations

import array
import io
import json
import math
import sys
import threading
import time
import wave
from collections.abc import Callable
from functools import lru_cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from sandbox.faults import Faults
from sandbox.runtimes import vllm_rules as data

# ---------------------------------------------------------------------------------------------
# A listener on (pod IP, port) running in daemon threads
# ---------------------------------------------------------------------------------------------


class HttpListener:
    """A ThreadingHTTPServer bound to ``(host, port)`` serving in a daemon thread until ``close``."""

    def __init__(self, host: str, port: int, handler: type[BaseHTTPRequestHandler], app: object) -> None:
        self.server = ThreadingHTTPServer((host, port), handler)  # raises OSError when taken
        self.server.daemon_threads = True
        self.server.app = app  # type: ignore[attr-defined]  # what the handler answers for
        self._thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(timeout=5)


class _JsonHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "uvicorn"
    sys_version = ""

    def log_message(self, format: str, *args: object) -> None:
        pass  # access lines are logged by the app where the real server logs them

    def send_body(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def send_json(self, status: int, payload: object) -> None:
        self.send_body(status, json.dumps(payload).encode(), "application/json")

    def read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""


# ---------------------------------------------------------------------------------------------
# The generic "ok" server
# ---------------------------------------------------------------------------------------------


class OkHandler(_JsonHandler):
    """Any method, any path: 200 ``ok``."""

    def _ok(self) -> None:
        self.read_body()
        self.send_body(200, b"ok", "text/plain; charset=utf-8")

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _ok


# ---------------------------------------------------------------------------------------------
# The vLLM(-Omni) server
# ---------------------------------------------------------------------------------------------


class ApiError(Exception):
    def __init__(
        self, status: int, message: str, error_type: str = "BadRequestError", param: str | None = None
    ):
        super().__init__(message)
        self.status, self.message, self.error_type, self.param = status, message, error_type, param

    def payload(self) -> dict:
        # vLLM's OpenAI-compatible error body
        return {
            "error": {
                "message": self.message,
                "type": self.error_type,
                "param": self.param,
                "code": self.status,
            }
        }


class ModelServer:
    """State behind the vLLM handler: what is served, whether the model is loaded, the faults."""

    def __init__(
        self,
        host: str,
        port: int,
        model_id: str,
        model_root: str,
        max_model_len: int,
        speech: bool,
        faults: Faults,
        time_scale: float,
        log: Callable[[str], None],
    ) -> None:
        self.model_id = model_id
        self.model_root = model_root
        self.max_model_len = max_model_len
        self.speech = speech
        self.faults = faults
        self.time_scale = time_scale
        self.log = log
        self.created = int(time.time())
        self._loaded_at: float | None = None
        self.listener = HttpListener(host, port, VllmHandler, self)

    def mark_loaded(self) -> None:
        self._loaded_at = time.monotonic()

    def close(self) -> None:
        self.listener.close()

    def healthy(self) -> bool:
        if self._loaded_at is None or self.faults.get("engine-dead") is not None:
            return False
        flapping = self.faults.get("health-flapping")
        if not flapping:
            return True
        period = float(flapping.get("period_seconds", 5.0)) or 5.0
        simulated = (time.monotonic() - self._loaded_at) * self.time_scale
        return int(simulated // period) % 2 == 0

    @property
    def loaded(self) -> bool:
        return self._loaded_at is not None

    def models(self) -> dict:
        return {
            "object": "list",
            "data": [
                {
                    "id": self.model_id,
                    "object": "model",
                    "created": self.created,
                    "owned_by": "vllm",
                    "root": self.model_root,
                    "parent": None,
                    "max_model_len": self.max_model_len,
                    "permission": [],
                }
            ],
        }

    def speech_request(self, body: bytes) -> tuple[bytes, str]:
        """Validate an OpenAI speech request; the audio bytes and their content type."""
        try:
            request = json.loads(body or b"null")
        except (ValueError, UnicodeDecodeError):
            raise ApiError(400, "Request body is not valid JSON") from None
        if not isinstance(request, dict):
            raise ApiError(400, "Request body must be a JSON object")
        text = request.get("input")
        if not isinstance(text, str):
            raise ApiError(400, "'input' is required and must be a string", param="input")
        if not text.strip():
            raise ApiError(400, "'input' must not be empty", param="input")
        if len(text) > data.MAX_INPUT_CHARS:
            raise ApiError(400, f"'input' is longer than {data.MAX_INPUT_CHARS} characters", param="input")
        for name in ("voice", "language", "instructions", "response_format", "model"):
            if request.get(name) is not None and not isinstance(request[name], str):
                raise ApiError(400, f"'{name}' must be a string", param=name)
        model = request.get("model")
        if model is not None and model not in (self.model_id, self.model_root):
            raise ApiError(404, f"The model `{model}` does not exist.", "NotFoundError", "model")
        voice = (request.get("voice") or data.DEFAULT_VOICE).lower()
        if voice not in data.VOICES:
            known = ", ".join(data.VOICES)
            raise ApiError(
                400, f"Invalid voice '{request['voice']}'. Supported voices: {known}", param="voice"
            )
        response_format = (request.get("response_format") or "wav").lower()
        if response_format not in data.RESPONSE_FORMATS:
            supported = ", ".join(data.RESPONSE_FORMATS)
            raise ApiError(
                400,
                f"Invalid response_format '{response_format}'. Supported: {supported}",
                param="response_format",
            )
        if response_format not in data.SYNTHESISED_FORMATS:
            raise ApiError(
                400,
                f"response_format '{response_format}' is not available in the sandbox, which synthesises "
                "only wav and pcm",
                param="response_format",
            )
        samples = synthesise(text, voice)
        if response_format == "pcm":
            return samples, "audio/pcm"
        return wav_file(samples), "audio/wav"


class VllmHandler(_JsonHandler):
    @property
    def app(self) -> ModelServer:
        return self.server.app  # type: ignore[attr-defined]

    def do_GET(self) -> None:
        self._route("GET")

    def do_POST(self) -> None:
        self._route("POST")

    def _route(self, method: str) -> None:
        path = self.path.split("?", 1)[0].rstrip("/") or "/"
        body = self.read_body() if method == "POST" else b""
        routes: dict[str, tuple[str, Callable[[bytes], None]]] = {
            "/health": ("GET", lambda _: self._health()),
            "/v1/models": ("GET", lambda _: self._ready(lambda: self.send_json(200, self.app.models()))),
        }
        if self.app.speech:
            routes["/v1/audio/voices"] = ("GET", lambda _: self._ready(self._voices))
            routes["/v1/audio/speech"] = ("POST", lambda raw: self._ready(lambda: self._speech(raw)))
        if path not in routes:
            self.send_json(404, {"detail": "Not Found"})
        elif routes[path][0] != method:
            self.send_json(405, {"detail": "Method Not Allowed"})
        else:
            routes[path][1](body)
        if path != "/health":  # probes would drown the log; everything else is logged like uvicorn
            client = "{}:{}".format(*self.client_address[:2])
            self.app.log(f'INFO:     {client} - "{method} {self.path} HTTP/1.1" {self._status}')

    def send_response(self, code: int, message: str | None = None) -> None:
        self._status = f"{code} {message or self.responses.get(code, ('',))[0]}"
        super().send_response(code, message)

    def _health(self) -> None:
        if self.app.healthy():
            self.send_json(200, {"status": "healthy"})
        else:
            reason = "engine is loading the model" if not self.app.loaded else "engine health check failed"
            self.send_json(503, {"status": "unhealthy", "reason": reason})

    def _ready(self, answer: Callable[[], None]) -> None:
        if not self.app.loaded:
            error = ApiError(503, "The model is still loading", "ServiceUnavailableError")
            self.send_json(503, error.payload())
            return
        answer()

    def _voices(self) -> None:
        self.send_json(200, {"voices": list(data.VOICES)})

    def _speech(self, body: bytes) -> None:
        try:
            audio, content_type = self.app.speech_request(body)
        except ApiError as error:
            self.send_json(error.status, error.payload())
            return
        self.send_body(200, audio, content_type)


# ---------------------------------------------------------------------------------------------
# Audio
# ---------------------------------------------------------------------------------------------

_CJK_RANGES = ((0x3040, 0x30FF), (0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xAC00, 0xD7AF), (0xF900, 0xFAFF))


def _is_cjk(char: str) -> bool:
    code = ord(char)
    return any(low <= code <= high for low, high in _CJK_RANGES)


def audio_seconds(text: str) -> float:
    """Simulated speech length: per-character rates from the data module, with a floor."""
    spoken = sum(data.SECONDS_PER_CJK_CHAR if _is_cjk(c) else data.SECONDS_PER_OTHER_CHAR for c in text)
    return max(spoken, data.MIN_AUDIO_SECONDS)


@lru_cache(maxsize=512)
def _segment(frequency: float, length: int) -> bytes:
    """One character's tone with a short fade in and out (no clicks), as int16 samples."""
    fade = max(1, min(length // 4, data.SAMPLE_RATE // 100))
    samples = array.array("h", bytes(2 * length))
    step = 2 * math.pi * frequency / data.SAMPLE_RATE
    for index in range(length):
        envelope = min(1.0, index / fade, (length - 1 - index) / fade)
        samples[index] = int(9000 * envelope * math.sin(step * index))
    if sys.byteorder == "big":
        samples.byteswap()
    return samples.tobytes()


def synthesise(text: str, voice: str) -> bytes:
    """Deterministic little-endian 16-bit mono PCM at SAMPLE_RATE for ``text`` spoken by ``voice``."""
    base = 110.0 + 20.0 * data.VOICES.index(voice)  # each voice has its own register
    chunks = []
    for char in text:
        seconds = data.SECONDS_PER_CJK_CHAR if _is_cjk(char) else data.SECONDS_PER_OTHER_CHAR
        length = round(seconds * data.SAMPLE_RATE)
        if char.isspace():
            chunks.append(bytes(2 * length))
        else:
            chunks.append(_segment(base * 2 ** ((ord(char) % 12) / 12), length))
    pcm = b"".join(chunks)
    minimum = round(data.MIN_AUDIO_SECONDS * data.SAMPLE_RATE) * 2
    return pcm + bytes(max(0, minimum - len(pcm)))


def wav_file(pcm: bytes) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(data.SAMPLE_RATE)
        wav.writeframes(pcm)
    return buffer.getvalue()
