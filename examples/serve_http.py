"""A tiny HTTP service for the HTTP plugin's examples, so they run offline: standard library, 127.0.0.1 only.

    python examples/serve_http.py 8080   # or without a port: a free one is chosen; the URL is printed

Routes (any method unless said otherwise):

    /json                 {"message": "hello from serve_http", "items": [1, 2, 3]}, as application/json
    /text                 a line of plain text
    /echo?status=N        the request as JSON (method, path, headers, body), with status N (default 200)
    /status/N             status N (404, 500, ...) with a short JSON body
    /redirect/N           302 to /redirect/N-1, ..., then to /json: N redirects in all
    /redirect-to?url=U    302 to U (&status=N: another redirect status, e.g. 307)
    /slow?seconds=S       answers after S seconds (at once when the server stops)
    /                     this list
    anything else         404

The integration tests serve the same handler from a thread (``make_server``)
and read ``server.requests``, every request as it arrived.
"""

from __future__ import annotations

import json
import sys
import threading
import urllib.parse
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["ExampleServer", "RecordedRequest", "main", "make_server"]

HOST = "127.0.0.1"  # never another interface: the examples' server is for this machine only


@dataclass(frozen=True)
class RecordedRequest:
    """One request as it arrived, before it was answered."""

    method: str
    path: str
    headers: dict[str, str]


class ExampleServer(ThreadingHTTPServer):
    """The service: records each request, and lets slow answers end when it stops."""

    daemon_threads = True

    def __init__(self, port: int) -> None:
        super().__init__((HOST, port), _Handler)
        self.requests: list[RecordedRequest] = []
        self.stopping = threading.Event()

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.server_address[1]}"

    def stop(self) -> None:
        """Stop serving (from another thread than ``serve_forever``'s) and close the socket."""
        self.stopping.set()
        self.shutdown()
        self.server_close()


class _Handler(BaseHTTPRequestHandler):
    server: ExampleServer
    server_version = "serve_http/1.0"

    def _route(self) -> None:
        url = urllib.parse.urlsplit(self.path)
        self.server.requests.append(RecordedRequest(self.command, url.path, dict(self.headers.items())))
        try:
            self._answer_route(url.path, dict(urllib.parse.parse_qsl(url.query)))
        except ValueError as exc:  # a query value that is no number, a body that is no JSON
            self._answer_json(HTTPStatus.BAD_REQUEST, {"error": str(exc)})

    do_GET = do_POST = do_PUT = do_DELETE = _route

    def _answer_route(self, path: str, query: dict[str, str]) -> None:
        parts = path.strip("/").split("/")
        if path == "/":
            self._answer(HTTPStatus.OK, (__doc__ or "").encode(), content_type="text/plain; charset=utf-8")
        elif path == "/json":
            self._answer_json(HTTPStatus.OK, {"message": "hello from serve_http", "items": [1, 2, 3]})
        elif path == "/text":
            self._answer(HTTPStatus.OK, b"hello from serve_http", content_type="text/plain; charset=utf-8")
        elif path == "/echo":
            self._answer_json(int(query.get("status", "200")), self._echo())
        elif parts[0] == "status" and len(parts) == 2 and parts[1].isdigit():
            self._answer_json(int(parts[1]), {"status": int(parts[1])})
        elif parts[0] == "redirect" and len(parts) == 2 and parts[1].isdigit():
            left = int(parts[1]) - 1
            self._redirect("/json" if left <= 0 else f"/redirect/{left}")
        elif path == "/redirect-to" and "url" in query:
            self._redirect(query["url"], status=int(query.get("status", "302")))
        elif path == "/slow":
            self.server.stopping.wait(float(query.get("seconds", "1")))
            self._answer(HTTPStatus.OK, b"slow, but here\n", content_type="text/plain; charset=utf-8")
        else:
            self._answer_json(HTTPStatus.NOT_FOUND, {"error": f"no route {path}; GET / lists them"})

    def _echo(self) -> dict[str, Any]:
        raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        body: Any = raw.decode("utf-8", errors="replace")
        if self.headers.get_content_type() == "application/json" and raw:
            body = json.loads(raw)
        return {"method": self.command, "path": self.path, "headers": dict(self.headers.items()), "body": body}

    def _redirect(self, location: str, *, status: int = HTTPStatus.FOUND) -> None:
        self._answer(status, b"", content_type="text/plain", headers={"Location": location})

    def _answer_json(self, status: int, document: object) -> None:
        self._answer(status, json.dumps(document).encode(), content_type="application/json")

    def _answer(self, status: int, body: bytes, *, content_type: str, headers: dict[str, str] | None = None) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)
        except ConnectionError:  # the client gave up (its timeout): nobody to answer
            pass


def make_server(port: int = 0) -> ExampleServer:
    """The service, bound to 127.0.0.1:``port`` (0: a free port), not yet serving."""
    return ExampleServer(port)


def main(argv: list[str]) -> int:
    if len(argv) > 1 or (argv and not argv[0].isdigit()):
        print("usage: python examples/serve_http.py [PORT]   (default: a free port)", file=sys.stderr)
        return 2
    try:
        server = make_server(int(argv[0]) if argv else 0)
    except OSError as exc:
        print(f"cannot listen on {HOST}:{argv[0] if argv else 0}: {exc.strerror}", file=sys.stderr)
        return 2
    print(f"serving on {server.url} (Ctrl-C stops)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.stopping.set()
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
