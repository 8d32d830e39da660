"""A local stand-in for Slack's incoming webhooks: an HTTP server on 127.0.0.1 that records each
request and answers as Slack does — `ok` (200); `invalid_payload` (400) for a body that is not a
JSON object; `no_text` (400) without `text` or `blocks`; `invalid_blocks` (400) for blocks that
break Block Kit's rules — or with the answers a test lines up (429 with Retry-After, 5xx)."""

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

BLOCK_TYPES = {"header", "section", "divider", "context", "actions", "image"}


def slack_verdict(body: bytes) -> tuple[int, str]:
    try:
        payload = json.loads(body)
    except ValueError:
        return 400, "invalid_payload"
    if not isinstance(payload, dict):
        return 400, "invalid_payload"
    if not payload.get("text") and not payload.get("blocks"):
        return 400, "no_text"
    blocks = payload.get("blocks", [])
    if not isinstance(blocks, list) or len(blocks) > 50:
        return 400, "invalid_blocks"
    for block in blocks:
        kind = block.get("type")
        if kind not in BLOCK_TYPES:
            return 400, "invalid_blocks"
        if kind == "header":
            text = block.get("text", {})
            if text.get("type") != "plain_text" or not 0 < len(text.get("text", "")) <= 150:
                return 400, "invalid_blocks"
        if kind == "section":
            fields = block.get("fields", [])
            if not block.get("text") and not fields:
                return 400, "invalid_blocks"
            if len(fields) > 10 or any(len(f.get("text", "")) > 2000 for f in fields):
                return 400, "invalid_blocks"
            if len(block.get("text", {}).get("text", "")) > 3000:
                return 400, "invalid_blocks"
    return 200, "ok"


@dataclass
class Request:
    path: str
    headers: dict
    body: bytes

    @property
    def json(self):
        return json.loads(self.body)


@dataclass
class Receiver:
    url: str
    requests: list[Request] = field(default_factory=list)
    # Answers lined up by the test, used in turn before Slack's own verdict:
    # (status, body, headers).
    queued: list[tuple[int, str, dict]] = field(default_factory=list)


def start_receiver() -> tuple[Receiver, ThreadingHTTPServer]:
    receiver = Receiver(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            receiver.requests.append(Request(self.path, dict(self.headers), body))
            if receiver.queued:
                status, text, headers = receiver.queued.pop(0)
            else:
                (status, text), headers = slack_verdict(body), {}
            data = text.encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(data)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    receiver.url = f"http://127.0.0.1:{server.server_port}/services/T000/B000/s3cr3t-token"
    return receiver, server
