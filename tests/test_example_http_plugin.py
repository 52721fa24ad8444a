"""The example HTTP plugin's own logic, through the SDK's ``plugin_harness``, against the examples' real local service.

Most calls run in this process (``call_action``: request and response still
go through their JSON encoding); the token's masking and the serve loop run
the plugin as a real process, as the runtime does.
"""

from __future__ import annotations

import socket
import uuid
from pathlib import Path

import pytest

MAIN = Path(__file__).parents[1] / "examples" / "plugins" / "http" / "main.py"


@pytest.fixture
def call(plugin_harness):
    """``call(action, inputs)``: the action in this process, ``token`` marked secret as the manifest marks it."""
    actions = plugin_harness.load_plugin(MAIN)

    def run(action, inputs):
        return plugin_harness.call_action(action, inputs, registry=actions, secret_inputs=["token"])

    return run


def unique_token() -> str:
    return f"tok-{uuid.uuid4().hex}"


def test_a_json_answer_is_decoded_and_its_headers_are_named_in_lowercase(call, http_server):
    result = call("get", {"url": f"{http_server.url}/json"})

    assert result.outputs["status"] == 200
    assert result.outputs["body"] == {"message": "hello from serve_http", "items": [1, 2, 3]}
    assert result.outputs["headers"]["content-type"] == "application/json"
    assert result.outputs["url"] == f"{http_server.url}/json"
    assert [(request.method, request.path) for request in http_server.requests] == [("GET", "/json")]


def test_any_other_answer_is_text(call, http_server):
    result = call("get", {"url": f"{http_server.url}/text"})

    assert result.outputs["body"] == "hello from serve_http"
    assert result.outputs["headers"]["content-type"] == "text/plain; charset=utf-8"


def test_post_sends_the_body_as_json_with_the_request_headers(call, http_server):
    result = call(
        "post", {"url": f"{http_server.url}/echo", "body": {"name": "ada", "n": [1, 2]}, "headers": {"X-Trace": "t-1"}}
    )

    echo = result.outputs["body"]
    assert echo["method"] == "POST"
    assert echo["body"] == {"name": "ada", "n": [1, 2]}
    assert echo["headers"]["Content-Type"] == "application/json"
    assert http_server.requests[0].headers["X-Trace"] == "t-1"


def test_the_token_is_sent_as_a_bearer_and_masked_in_the_real_process_logs(plugin_harness, http_server):
    token = unique_token()

    result = plugin_harness.run_plugin(
        MAIN, "get", {"url": f"{http_server.url}/json", "token": token}, secret_inputs=["token"]
    )

    assert result.returncode == 0, result.stderr
    assert http_server.requests[0].headers["Authorization"] == f"Bearer {token}"
    assert "'Authorization': 'Bearer ***'" in result.logs[0]["message"]
    assert token not in result.stderr


def test_a_token_and_an_authorization_header_together_are_refused(call, http_server):
    result = call("get", {"url": f"{http_server.url}/json", "token": unique_token(), "headers": {"authorization": "x"}})

    assert result.error["type"] == "InvalidInputs"
    assert "give the token in `token` only" in result.error["message"]
    assert http_server.requests == []


@pytest.mark.parametrize(
    ("path", "kind", "retryable"),
    [
        ("/status/404", "ClientError", False),
        ("/status/429", "ClientError", False),
        ("/status/503", "ServerError", True),
    ],
)
def test_4xx_fails_for_good_and_5xx_may_be_retried(call, http_server, path, kind, retryable):
    result = call("get", {"url": f"{http_server.url}{path}"})

    status = path.rsplit("/", 1)[1]
    assert result.error["type"] == kind
    assert result.error["retryable"] is retryable
    assert result.error["message"].startswith(f"GET {http_server.url}{path} answered {status} ")
    assert result.error["message"].endswith(f'{{"status": {status}}}')  # the start of the answer's body


def test_an_error_answer_is_masked_before_it_is_cut_into_the_message(call, http_server):
    token = unique_token()

    result = call("get", {"url": f"{http_server.url}/echo?status=401", "token": token})

    assert result.error["type"] == "ClientError"
    assert '"Authorization": "Bearer ***"' in result.error["message"]
    assert token not in str(result.response)


def test_a_refused_connection_may_be_retried(call):
    with socket.create_server(("127.0.0.1", 0)) as closed:
        port = closed.getsockname()[1]  # free once closed: nothing listens there

    result = call("get", {"url": f"http://127.0.0.1:{port}/json"})

    assert result.error["type"] == "ConnectionFailed"
    assert result.error["retryable"] is True
    assert "Connection refused" in result.error["message"]


def test_no_answer_within_the_timeout_may_be_retried(call, http_server):
    result = call("get", {"url": f"{http_server.url}/slow?seconds=60", "timeout": 0.3})

    assert result.error == {
        "type": "Timeout",
        "message": f"GET {http_server.url}/slow?seconds=60: no answer within 0.3 s (the `timeout` input)",
        "retryable": True,
    }


def test_redirects_are_followed_up_to_the_limit(call, http_server):
    landed = call("get", {"url": f"{http_server.url}/redirect/3", "max_redirects": 3})
    too_many = call("get", {"url": f"{http_server.url}/redirect/3", "max_redirects": 2})

    assert landed.outputs["url"] == f"{http_server.url}/json"
    assert landed.outputs["body"]["items"] == [1, 2, 3]
    assert too_many.error["type"] == "TooManyRedirects"
    assert too_many.error["retryable"] is False
    assert too_many.error["message"] == (
        f"GET {http_server.url}/redirect/3: more than 2 redirect(s) (the `max_redirects` input); "
        f"the last went to {http_server.url}/json"
    )
    paths = [request.path for request in http_server.requests]
    assert paths == ["/redirect/3", "/redirect/2", "/redirect/1", "/json", "/redirect/3", "/redirect/2", "/redirect/1"]


def test_a_post_redirected_by_302_becomes_a_get_without_its_body(call, http_server):
    result = call("post", {"url": f"{http_server.url}/redirect-to?url=/echo", "body": {"a": 1}})

    assert result.outputs["body"]["method"] == "GET"
    assert result.outputs["body"]["body"] == ""
    assert "Content-Type" not in result.outputs["body"]["headers"]


def test_a_post_redirected_by_307_is_sent_again_as_it_was(call, http_server):
    result = call("post", {"url": f"{http_server.url}/redirect-to?url=/echo&status=307", "body": {"a": 1}})

    assert result.outputs["body"]["method"] == "POST"
    assert result.outputs["body"]["body"] == {"a": 1}
    assert [request.method for request in http_server.requests] == ["POST", "POST"]


def test_the_token_follows_a_redirect_on_its_origin_only(call, http_server):
    token = unique_token()
    other_origin = http_server.url.replace("127.0.0.1", "localhost") + "/echo"

    same = call("get", {"url": f"{http_server.url}/redirect-to?url=/echo", "token": token})
    other = call("get", {"url": f"{http_server.url}/redirect-to?url={other_origin}", "token": token})

    assert same.outputs["url"] == f"{http_server.url}/echo"
    assert other.outputs["url"] == other_origin
    sent = [request.headers.get("Authorization") for request in http_server.requests]
    assert sent == [f"Bearer {token}", f"Bearer {token}", f"Bearer {token}", None]


def test_a_redirect_to_anything_but_http_is_refused(call, http_server):
    result = call("get", {"url": f"{http_server.url}/redirect-to?url=file:///etc/passwd"})

    assert result.error["type"] == "BadRedirect"
    assert "file:///etc/passwd, which is not an http or https URL" in result.error["message"]


def test_a_url_urllib_would_read_from_disk_is_refused(call):
    result = call("get", {"url": "file:///etc/passwd"})

    assert result.error == {
        "type": "InvalidURL",
        "message": "GET file:///etc/passwd: not an http, https or data URL",
        "retryable": False,
    }


def test_an_answer_that_says_json_but_is_not_fails(call):
    result = call("get", {"url": "data:application/json,not-json"})

    assert result.error["type"] == "InvalidJSON"
    assert "the answer says it is application/json, but it is not JSON" in result.error["message"]


def test_a_warm_worker_answers_call_after_call(plugin_harness, http_server):
    with plugin_harness.serve_plugin(MAIN) as worker:
        assert worker.actions == ["get", "post"]
        first = worker.call("get", {"url": f"{http_server.url}/json"})
        second = worker.call("post", {"url": f"{http_server.url}/echo", "body": [1]})
        failed = worker.call("get", {"url": f"{http_server.url}/status/500"})
        after = worker.call("get", {"url": f"{http_server.url}/text"})

    assert first.outputs["status"] == second.outputs["status"] == after.outputs["status"] == 200
    assert failed.error["type"] == "ServerError"
    assert worker.returncode == 0
