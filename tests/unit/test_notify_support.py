"""Local receivers for notifier tests: a scriptable HTTP server and a tiny SMTP server.

Both run in threads on 127.0.0.1 with an ephemeral port and record what they received. The
HTTP receiver can answer scripted statuses, and can go down (connections refused) and come
back on the same port. Imported by the other test_notify_* modules; its own tests below check
the helpers themselves.
"""

from __future__ import annotations

import json
import socket
import socketserver
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

from services.core.netpolicy import OutboundPolicy

LOOPBACK_POLICY = OutboundPolicy(allow_loopback=True)


@dataclass(frozen=True)
class Received:
    """One request as the receiver saw it."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Reply:
    status: int = 200
    body: bytes = b"ok"
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, status: int, data: Any, **headers: str) -> Reply:
        return cls(
            status, json.dumps(data).encode(), {"Content-Type": "application/json", **headers}
        )


Responder = Callable[[Received], Reply]


class Receiver:
    """An HTTP server recording requests; `responder` decides each answer (default 200)."""

    def __init__(self, responder: Responder | None = None) -> None:
        self.responder: Responder = responder or (lambda _req: Reply())
        self.received: list[Received] = []  # every request, including refused-by-status ones
        self.accepted: list[Received] = []  # those answered with 2xx
        self.lock = threading.Lock()
        self.port = 0
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def _any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                request = Received(
                    self.command, self.path, dict(self.headers.items()), self.rfile.read(length)
                )
                with receiver.lock:
                    reply = receiver.responder(request)
                    receiver.received.append(request)
                    if 200 <= reply.status < 300:
                        receiver.accepted.append(request)
                self.send_response(reply.status)
                for key, value in reply.headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)

            do_POST = do_GET = do_PUT = _any  # noqa: N815

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                return None

        server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        server.daemon_threads = True
        self.port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Go down: further connections are refused until `start()` again (same port)."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> Receiver:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def outbound_client() -> httpx.AsyncClient:
    """An httpx client with short timeouts for tests."""
    return httpx.AsyncClient(timeout=5.0)


# --- SMTP -------------------------------------------------------------------------------------


@dataclass
class Mail:
    sender: str
    recipients: list[str]
    data: bytes


class SmtpReceiver:
    """A minimal SMTP server (HELO/EHLO, MAIL, RCPT, DATA, RSET, NOOP, QUIT)."""

    def __init__(self, *, reject_rcpt: int | None = None) -> None:
        self.mails: list[Mail] = []
        self.reject_rcpt = reject_rcpt  # e.g. 550 or 450 to refuse every recipient
        self._server: socketserver.ThreadingTCPServer | None = None
        self.port = 0

    def __enter__(self) -> SmtpReceiver:
        receiver = self

        class Handler(socketserver.StreamRequestHandler):
            def reply(self, line: str) -> None:
                self.wfile.write(line.encode() + b"\r\n")

            def handle(self) -> None:
                self.reply("220 localhost test SMTP")
                sender, rcpts = "", list[str]()
                for raw in self.rfile:
                    command = raw.decode().strip()
                    verb = command.split(" ", 1)[0].upper()
                    if verb in {"HELO", "EHLO"}:
                        self.reply("250 localhost")
                    elif verb == "MAIL":
                        sender, rcpts = command.split(":", 1)[1].strip(" <>"), []
                        self.reply("250 OK")
                    elif verb == "RCPT":
                        if receiver.reject_rcpt:
                            self.reply(f"{receiver.reject_rcpt} mailbox unavailable")
                            continue
                        rcpts.append(command.split(":", 1)[1].strip(" <>"))
                        self.reply("250 OK")
                    elif verb == "DATA":
                        self.reply("354 go ahead")
                        lines = list(self._data())
                        receiver.mails.append(Mail(sender, rcpts, b"".join(lines)))
                        self.reply("250 queued")
                    elif verb in {"RSET", "NOOP"}:
                        self.reply("250 OK")
                    elif verb == "QUIT":
                        self.reply("221 bye")
                        return
                    else:
                        self.reply("502 not implemented")

            def _data(self) -> Iterator[bytes]:
                for raw in self.rfile:
                    if raw in (b".\r\n", b".\n"):
                        return
                    yield raw[1:] if raw.startswith(b"..") else raw

        server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        self.port = server.server_address[1]
        self._server = server
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


def free_port() -> int:
    """A port nothing listens on (for connection-refused tests)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_receiver_records_requests_and_refuses_connections_while_down() -> None:
    with Receiver(lambda _r: Reply.json(202, {"a": 1})) as receiver:
        response = httpx.post(receiver.url + "/x", content=b'{"k":1}')
        assert response.status_code == 202
        assert receiver.received[0].json() == {"k": 1}
        receiver.stop()
        try:
            httpx.post(receiver.url + "/x", content=b"{}", timeout=2)
            raise AssertionError("expected the connection to be refused")
        except httpx.ConnectError:
            pass
        receiver.start()
        assert httpx.post(receiver.url + "/y", content=b"{}").status_code == 202
        assert [r.path for r in receiver.accepted] == ["/x", "/y"]
