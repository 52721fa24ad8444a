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
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from workflow_plugin_sdk import ActionError, PluginContext, define_action, run

if TYPE_CHECKING:
    from email.message import Message

DEFAULT_TIMEOUT_S = 10.0
DEFAULT_MAX_REDIRECTS = 5
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
NETWORK_SCHEMES = frozenset({"http", "https"})
SCHEMES = NETWORK_SCHEMES | {"data"}  # urllib would also open file: and ftp: URLs; this plugin never does
EXCERPT_CHARS = 300  # of an error answer's body, in the error message


class _EveryResponse(urllib.request.HTTPErrorProcessor):
    """Hands every answer back as it came (3xx, 4xx and 5xx too): statuses are judged below."""

    def http_response(self, request: urllib.request.Request, response: Any) -> Any:
        return response

    https_response = http_response


# Built once per process: a warm worker keeps it between calls.
_OPENER = urllib.request.build_opener(_EveryResponse)


def _origin(url: str) -> tuple[str, str]:
    parts = urllib.parse.urlsplit(url)
    return parts.scheme, parts.netloc.lower()


def _request_headers(inputs: dict[str, Any]) -> dict[str, str]:
    """The headers to send, named as urllib names them (``Content-type``), so one name is one header."""
    headers = {name.capitalize(): value for name, value in inputs.get("headers", {}).items()}
    token = inputs.get("token")
    if token is not None:
        if "Authorization" in headers:
            raise ActionError(
                "both `token` and `headers.Authorization` are given; give the token in `token` only "
                "(it is sent as `Authorization: Bearer <token>` and masked everywhere)",
                type="InvalidInputs",
            )
        headers["Authorization"] = f"Bearer {token}"
    return headers


def _send(method: str, url: str, *, headers: dict[str, str], data: bytes | None, timeout_s: float) -> tuple[Any, bytes]:
    """One request, no redirect followed: the response and its whole body."""
    try:
        request = urllib.request.Request(url, data=data, headers=headers, method=method)  # noqa: S310 - schemes checked
        with _OPENER.open(request, timeout=timeout_s) as response:
            return response, response.read()
    except TimeoutError as exc:
        raise _timed_out(method, url, timeout_s) from exc
    except urllib.error.URLError as exc:
        if isinstance(exc.reason, TimeoutError):
            raise _timed_out(method, url, timeout_s) from exc
        raise ActionError(
            f"{method} {url}: cannot connect: {exc.reason}", type="ConnectionFailed", retryable=True
        ) from exc
    except (http.client.HTTPException, ConnectionError) as exc:
        # Before ValueError: http.client.InvalidURL is one, but most HTTPExceptions are a dropped connection.
        if isinstance(exc, http.client.InvalidURL):
            raise ActionError(f"{method} {url}: invalid URL: {exc}", type="InvalidURL") from exc
        reason = str(exc) or type(exc).__name__
        message = f"{method} {url}: the connection failed: {reason}"
        raise ActionError(message, type="ConnectionFailed", retryable=True) from exc
    except ValueError as exc:
        raise ActionError(f"{method} {url}: invalid URL: {exc}", type="InvalidURL") from exc


def _timed_out(method: str, url: str, timeout_s: float) -> ActionError:
    return ActionError(
        f"{method} {url}: no answer within {timeout_s:g} s (the `timeout` input)", type="Timeout", retryable=True
    )


def _redirect_target(method: str, url: str, location: str) -> str:
    target = urllib.parse.urljoin(url, location)
    if urllib.parse.urlsplit(target).scheme not in NETWORK_SCHEMES:
        raise ActionError(
            f"{method} {url}: redirected to {target}, which is not an http or https URL", type="BadRedirect"
        )
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
        message = f"{where}: the answer says it is {content_type}, but it is not JSON: {exc}"
        raise ActionError(message, type="InvalidJSON") from exc


def _excerpt(ctx: PluginContext, raw: bytes, headers: Message) -> str:
    """The start of a body, masked before it is cut: a token cut in two would no longer be recognised."""
    text = ctx.mask(" ".join(raw.decode(_charset(headers), errors="replace").split()))
    return text if len(text) <= EXCERPT_CHARS else text[:EXCERPT_CHARS] + "…"


@dataclass(frozen=True)
class _Answer:
    """The answer that ended a request, after its redirects."""

    method: str
    url: str
    status: int
    reason: str
    headers: Message
    raw: bytes


def _follow(ctx: PluginContext, method: str, url: str, *, headers: dict[str, str], data: bytes | None) -> _Answer:
    """Send the request and follow its redirects, at most ``max_redirects`` of them."""
    first_request = f"{method} {url}"
    timeout_s = float(ctx.inputs.get("timeout", DEFAULT_TIMEOUT_S))
    limit = int(ctx.inputs.get("max_redirects", DEFAULT_MAX_REDIRECTS))
    for _ in range(limit + 1):
        response, raw = _send(method, url, headers=headers, data=data, timeout_s=timeout_s)
        status = response.status if response.status is not None else 200  # a data: URL has no status
        location = response.headers.get("Location")
        if status not in REDIRECT_STATUSES or location is None:
            return _Answer(method, url, status, getattr(response, "reason", ""), response.headers, raw)
        target = _redirect_target(method, url, location)
        ctx.log.info("%s %s: %d, redirected to %s", method, url, status, target)
        if status == 303 or (status in (301, 302) and method == "POST"):  # as browsers do: the body is not sent again
            method, data = "GET", None
            headers.pop("Content-type", None)
        if _origin(target) != _origin(url):
            headers.pop("Authorization", None)  # the token was given for the first origin only
        url = target
    message = f"{first_request}: more than {limit} redirect(s) (the `max_redirects` input)"
    raise ActionError(f"{message}; the last went to {url}", type="TooManyRedirects")


def _outputs(ctx: PluginContext, answer: _Answer) -> dict[str, Any]:
    """The action's outputs, or its failure for an error status."""
    where = f"{answer.method} {answer.url}"
    if answer.status >= 400:
        reason = f"{answer.status} {answer.reason}".rstrip()
        excerpt = _excerpt(ctx, answer.raw, answer.headers)
        message = f"{where} answered {reason}: {excerpt}" if excerpt else f"{where} answered {reason}"
        if answer.status >= 500:
            raise ActionError(message, type="ServerError", retryable=True)
        raise ActionError(message, type="ClientError")
    headers: dict[str, str] = {}
    for name, value in answer.headers.items():
        key = name.lower()
        headers[key] = f"{headers[key]}, {value}" if key in headers else value
    body = _body(answer.raw, answer.headers, where=where)
    return {"status": answer.status, "headers": headers, "body": body, "url": answer.url}


def _request(ctx: PluginContext, method: str, *, data: bytes | None, content_type: str | None) -> dict[str, Any]:
    url = ctx.inputs["url"]
    if urllib.parse.urlsplit(url).scheme not in SCHEMES:  # the manifest's pattern, for callers that skip it
        raise ActionError(f"{method} {url}: not an http, https or data URL", type="InvalidURL")
    headers = _request_headers(ctx.inputs)
    if content_type is not None:
        headers.setdefault("Content-type", content_type)
    # The SDK masks the token in every log record, so the headers can be shown as they are sent.
    ctx.log.debug("%s %s with headers %s", method, url, headers)
    started = time.monotonic()
    answer = _follow(ctx, method, url, headers=headers, data=data)
    elapsed = time.monotonic() - started
    ctx.log.info("%s %s: %d (%d bytes in %.3f s)", answer.method, answer.url, answer.status, len(answer.raw), elapsed)
    return _outputs(ctx, answer)


@define_action("get")
def get(ctx: PluginContext, inputs: dict[str, Any]) -> dict[str, Any]:
    return _request(ctx, "GET", data=None, content_type=None)


@define_action("post")
def post(ctx: PluginContext, inputs: dict[str, Any]) -> dict[str, Any]:
    data = json.dumps(inputs["body"], ensure_ascii=False).encode("utf-8")
    return _request(ctx, "POST", data=data, content_type="application/json")


if __name__ == "__main__":
    run()
