"""HTTP requests from workflows: GET, and POST with a JSON body, written with the SDK and the standard library.

Every failure says whether trying again may help, because a task's
``retries`` retry only action errors marked retryable: a 5xx answer, a
refused or dropped connection and a timeout are (the server may recover), a
4xx answer, an invalid URL and a redirect loop are not (the same request
would fail the same way).

Redirects are followed here, not by urllib, to keep three promises urllib's
handler does not: a limit set per request, the bearer token never sent to
another origin than the one it was given for, and no redirect to anything
but http or https.

``data:`` URLs (RFC 2397) are answered locally, without a network: the
manifest's examples use them, so ``workflow plugin test`` runs them offline.
"""

from __future__ import annotations

import http.client
import json
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import TYPE_CHECKING, Any

from workflow_plugin_sdk import ActionError, PluginContext, define_action, run

if TYPE_CHECKING:
    from email.message import Message

DEFAULT_TIMEOUT_S = 10.0
DEFAULT_MAX_REDIRECTS = 5
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
NETWORK_SCHEMES = frozenset({"http", "https"})
EXCERPT_CHARS = 300  # of an error answer's body, in the error message


class _EveryResponse(urllib.request.HTTPErrorProcessor):
    """Hands every answer back as it came (3xx, 4xx and 5xx too): statuses are judged below."""

    def http_response(self, request: urllib.request.Request, response: Any) -> Any:
        return response

    https_response = http_response


# Built once per process: a warm worker keeps it between calls.
_OPENER = urllib.request.build_opener(_EveryResponse)


def _fail(message: str, *, kind: str, retryable: bool = False) -> ActionError:
    return ActionError(message, type=kind, retryable=retryable)


def _origin(url: str) -> tuple[str, str]:
    parts = urllib.parse.urlsplit(url)
    return parts.scheme, parts.netloc.lower()


def _request_headers(inputs: dict[str, Any]) -> dict[str, str]:
    """The headers to send, named as urllib names them (``Content-type``), so one name is one header."""
    headers = {name.capitalize(): value for name, value in inputs.get("headers", {}).items()}
    token = inputs.get("token")
    if token is not None:
        if "Authorization" in headers:
            raise _fail(
                "both `token` and `headers.Authorization` are given; give the token in `token` only "
                "(it is sent as `Authorization: Bearer <token>` and masked everywhere)",
                kind="InvalidInputs",
            )
        headers["Authorization"] = f"Bearer {token}"
    return headers


def _send(method: str, url: str, *, headers: dict[str, str], data: bytes | None, timeout_s: float) -> tuple[Any, bytes]:
    """One request, no redirect followed: the response and its whole body."""
    try:
        request = urllib.request.Request(url, data=data, headers=headers, method=method)
        with _OPENER.open(request, timeout=timeout_s) as response:
            return response, response.read()
    except TimeoutError as exc:
        raise _timed_out(method, url, timeout_s) from exc
    except urllib.error.URLError as exc:
        if isinstance(exc.reason, TimeoutError):
            raise _timed_out(method, url, timeout_s) from exc
        raise _fail(f"{method} {url}: cannot connect: {exc.reason}", kind="ConnectionFailed", retryable=True) from exc
    except (http.client.HTTPException, ConnectionError) as exc:
        # Before ValueError: http.client.InvalidURL is one, but most HTTPExceptions are a dropped connection.
        if isinstance(exc, http.client.InvalidURL):
            raise _fail(f"{method} {url}: invalid URL: {exc}", kind="InvalidURL") from exc
        reason = str(exc) or type(exc).__name__
        raise _fail(f"{method} {url}: the connection failed: {reason}", kind="ConnectionFailed", retryable=True) from exc
    except ValueError as exc:
        raise _fail(f"{method} {url}: invalid URL: {exc}", kind="InvalidURL") from exc


def _timed_out(method: str, url: str, timeout_s: float) -> ActionError:
    return _fail(
        f"{method} {url}: no answer within {timeout_s:g} s (the `timeout` input)", kind="Timeout", retryable=True
    )


def _redirect_target(method: str, url: str, location: str) -> str:
    target = urllib.parse.urljoin(url, location)
    if urllib.parse.urlsplit(target).scheme not in NETWORK_SCHEMES:
        raise _fail(f"{method} {url}: redirected to {target}, which is not an http or https URL", kind="BadRedirect")
    return target


def _charset(headers: Message) -> str:
    charset = headers.get_content_charset() or "utf-8"
    try:
        "".encode(charset)
    except LookupError:
        return "utf-8"
    return charset


def _body(raw: bytes, headers: Message, *, where: str) -> Any:
    """The body: JSON-decoded when the answer says it is JSON, else text (undecodable bytes replaced)."""
    text = raw.decode(_charset(headers), errors="replace")
    content_type = headers.get_content_type()
    if content_type != "application/json" and not content_type.endswith("+json"):
        return text
    if not text.strip():
        return None
    try:
        return json.loads(text)
    except ValueError as exc:
        raise _fail(f"{where}: the answer says it is {content_type}, but it is not JSON: {exc}", kind="InvalidJSON") from exc


def _excerpt(ctx: PluginContext, raw: bytes, headers: Message) -> str:
    """The start of a body, masked before it is cut: a token cut in two would no longer be recognised."""
    text = ctx.mask(" ".join(raw.decode(_charset(headers), errors="replace").split()))
    return text if len(text) <= EXCERPT_CHARS else text[:EXCERPT_CHARS] + "…"


def _request(ctx: PluginContext, method: str, *, data: bytes | None, content_type: str | None) -> dict[str, Any]:
    """Send the request, follow redirects within the limit, and judge the final answer."""
    inputs = ctx.inputs
    url = first_url = inputs["url"]
    timeout_s = float(inputs.get("timeout", DEFAULT_TIMEOUT_S))
    limit = int(inputs.get("max_redirects", DEFAULT_MAX_REDIRECTS))
    headers = _request_headers(inputs)
    if content_type is not None:
        headers.setdefault("Content-type", content_type)
    # The SDK masks the token in every log record, so the headers can be shown as they are sent.
    ctx.log.debug("%s %s with headers %s", method, url, headers)
    started = time.monotonic()
    followed = 0
    while True:
        response, raw = _send(method, url, headers=headers, data=data, timeout_s=timeout_s)
        status = response.status if response.status is not None else 200  # a data: URL has no status
        location = response.headers.get("Location")
        if status not in REDIRECT_STATUSES or location is None:
            break
        if followed == limit:
            raise _fail(
                f"{method} {first_url}: more than {limit} redirect(s) (the `max_redirects` input); the last went to {location}",
                kind="TooManyRedirects",
            )
        target = _redirect_target(method, url, location)
        ctx.log.info("%s %s: %d, redirected to %s", method, url, status, target)
        if status == 303 or (status in (301, 302) and method == "POST"):  # as browsers do: the body is not sent again
            method, data = "GET", None
            headers.pop("Content-type", None)
        if _origin(target) != _origin(url):
            headers.pop("Authorization", None)  # the token was given for the first origin only
        url = target
        followed += 1
    where = f"{method} {url}"
    ctx.log.info("%s: %d (%d bytes in %.3f s)", where, status, len(raw), time.monotonic() - started)
    if status >= 400:
        reason = f"{status} {response.reason}".rstrip()
        excerpt = _excerpt(ctx, raw, response.headers)
        message = f"{where} answered {reason}: {excerpt}" if excerpt else f"{where} answered {reason}"
        if status >= 500:
            raise _fail(message, kind="ServerError", retryable=True)
        raise _fail(message, kind="ClientError")
    answer_headers: dict[str, str] = {}
    for name, value in response.headers.items():
        key = name.lower()
        answer_headers[key] = f"{answer_headers[key]}, {value}" if key in answer_headers else value
    return {"status": status, "headers": answer_headers, "body": _body(raw, response.headers, where=where), "url": url}


@define_action("get")
def get(ctx: PluginContext, inputs: dict[str, Any]) -> dict[str, Any]:
    return _request(ctx, "GET", data=None, content_type=None)


@define_action("post")
def post(ctx: PluginContext, inputs: dict[str, Any]) -> dict[str, Any]:
    data = json.dumps(inputs["body"], ensure_ascii=False).encode("utf-8")
    return _request(ctx, "POST", data=data, content_type="application/json")


if __name__ == "__main__":
    run()
