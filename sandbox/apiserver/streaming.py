"""Chunked HTTP/1.1 response streams (watch events, followed logs)."""

from __future__ import annotations

from http.server import BaseHTTPRequestHandler


class ChunkedStream:
    """Sends the headers at once, then each ``write`` as one chunk, flushed immediately."""

    def __init__(self, handler: BaseHTTPRequestHandler, content_type: str) -> None:
        self._handler = handler
        handler.send_response(200)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Transfer-Encoding", "chunked")
        handler.send_header("Cache-Control", "no-cache, private")
        handler.end_headers()
        # A stream's end is the end of the connection's usefulness: clients reconnect.
        handler.close_connection = True

    def write(self, data: bytes) -> None:
        if data:
            self._handler.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            self._handler.wfile.flush()

    def close(self) -> None:
        self._handler.wfile.write(b"0\r\n\r\n")
        self._handler.wfile.flush()
