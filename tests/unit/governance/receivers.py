"""Real receivers on 127.0.0.1 for the notice channels: an HTTP webhook receiver and an SMTP server."""

from __future__ import annotations

import json
import socket
import threading
import time
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from aiosmtpd.controller import Controller


class Receiver:
    """A real HTTP webhook receiver; ``delay`` makes it slow, ``fail_first`` answers 503 to that many requests."""

    def __init__(self, delay: float = 0.0, fail_first: int = 0) -> None:
        self.bodies: list[dict] = []
        self.paths: list[str] = []
        self.refused = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                time.sleep(delay)
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if receiver.refused < fail_first:
                    receiver.refused += 1
                    self.send_response(503)
                    self.end_headers()
                    return
                receiver.bodies.append(body)
                receiver.paths.append(self.path)
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SmtpServer:
    """aiosmtpd on 127.0.0.1: every message it accepts, parsed, with its envelope."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.messages: list[tuple[str, list[str], EmailMessage]] = []
        server = self

        class Handler:
            async def handle_DATA(self, smtp, session, envelope) -> str:  # noqa: N802 (aiosmtpd's naming)
                parsed = message_from_bytes(envelope.content, policy=policy.default)
                server.messages.append((envelope.mail_from, list(envelope.rcpt_tos), parsed))
                return "250 OK"

        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}?from=governance@meshwork.example"

    def __enter__(self) -> SmtpServer:
        self.controller.start()
        return self

    def __exit__(self, *exc) -> None:
        self.controller.stop()
