"""Server plumbing: an HTTP server on a free local port, and Slack's way of reading request arguments."""

from __future__ import annotations

import json
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

from bot.devtools.fake_slack.records import HOST, JSON_FORM_FIELDS, _BadRequest, _Reply


def _parse_params(query: str, content_type: str, body: bytes) -> dict:
    """Merge query-string and body arguments the way Slack reads them, decoding JSON-valued form fields."""
    params: dict = dict(parse_qsl(query, keep_blank_values=True))
    media_type = content_type.split(";")[0].strip().lower()
    if media_type == "application/json" and body:
        params.update(_json_object(body))
    elif media_type == "application/x-www-form-urlencoded":
        params.update(parse_qsl(body.decode("utf-8", errors="replace"), keep_blank_values=True))
    for name in JSON_FORM_FIELDS:
        if isinstance(params.get(name), str):
            params[name] = _decoded_json_or_text(params[name])
    return params


def _json_object(body: bytes) -> dict:
    try:
        decoded = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise _BadRequest("invalid_json") from error
    if not isinstance(decoded, dict):
        raise _BadRequest("invalid_json")
    return decoded


def _decoded_json_or_text(value: str) -> object:
    try:
        return json.loads(value)
    except json.JSONDecodeError:
        return value


_Answer = Callable[[str, str, str, dict, bytes], _Reply]  # (verb, path, query, headers, body) -> reply


class _FakeSlackServer(ThreadingHTTPServer):
    """An HTTP server on a free local port whose request handlers all ask one `answer` function."""

    daemon_threads = True

    def __init__(self, *, answer: _Answer) -> None:
        self.answer = answer
        super().__init__((HOST, 0), _RequestHandler)


class _RequestHandler(BaseHTTPRequestHandler):
    """Translates HTTP to the server's `answer` function and back; knows nothing about Slack methods."""

    server: _FakeSlackServer

    def do_GET(self) -> None:
        self._answer("GET")

    def do_POST(self) -> None:
        self._answer("POST")

    def _answer(self, verb: str) -> None:
        url = urlsplit(self.path)
        headers = {name.lower(): value for name, value in self.headers.items()}
        reply = self.server.answer(verb, url.path, url.query, headers, self._read_body())
        if reply.drop:
            self.close_connection = True  # say nothing: the client sees the connection close without a response
            return
        self._send(reply)

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(self, reply: _Reply) -> None:
        if isinstance(reply.body, str):
            payload, content_type = reply.body.encode("utf-8"), "text/plain; charset=utf-8"
        else:
            payload, content_type = json.dumps(reply.body).encode("utf-8"), "application/json; charset=utf-8"
        self.send_response(reply.status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: object) -> None:
        """Stay quiet: the console shows its own transcript and tests read `calls` instead of logs."""
