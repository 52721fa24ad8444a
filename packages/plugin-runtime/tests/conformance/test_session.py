"""OneShotSession: a real sh plugin's pipes driven by hand, and its stop by the runtime's sequence."""

from __future__ import annotations

import time

from workflow_plugin_runtime import RuntimeKind
from workflow_plugin_runtime.conformance.calls import PluginCalls
from workflow_plugin_runtime.conformance.session import OneShotSession

from .conftest import ANSWER


def session_of(manifest) -> tuple[PluginCalls, OneShotSession]:
    calls = PluginCalls(manifest, kind=RuntimeKind.PROCESS)
    return calls, OneShotSession(calls.spawn(calls.request("greet", {})))


def test_a_request_in_two_parts_is_read_to_eof_and_answered_once(sh_plugin):
    calls, session = session_of(sh_plugin("request=$(cat)\n" + ANSWER))
    deadline = time.monotonic() + 30
    with session:
        assert session.write(b'{"protocol":1,"action"', deadline=deadline) == 22
        assert session.wait_read(deadline=deadline)
        session.write(b':"greet","inputs":{}}\n', deadline=deadline)
        session.close_stdin()
        end = session.finish(deadline=deadline)
    calls.close()

    assert (end.ended, end.exit_code) == (True, 0)
    assert end.stdout == b'{"ok":true,"outputs":{"greeting":"hello"}}\n'


def test_writing_stops_where_the_plugin_stopped_reading(sh_plugin):
    calls, session = session_of(sh_plugin("request=$(head -c 10)\n" + ANSWER))
    deadline = time.monotonic() + 30
    with session:
        written = session.write(b"x" * (1 << 20), deadline=deadline)
        end = session.finish(deadline=deadline)
    calls.close()

    assert written < 1 << 20
    assert end.exit_code == 2


def test_sigterm_ends_a_plugin_waiting_for_stdin_within_the_grace(sh_plugin):
    calls, session = session_of(sh_plugin("request=$(cat)\n" + ANSWER))
    with session:
        session.write(b"{", deadline=time.monotonic() + 30)
        assert session.wait_read(deadline=time.monotonic() + 30)
        took = session.terminate(grace_s=5.0)
    calls.close()

    assert took is not None
    assert took < 5.0


def test_a_plugin_ignoring_sigterm_is_killed_after_the_grace(sh_plugin):
    calls, session = session_of(sh_plugin("trap '' TERM\nrequest=$(cat)\n" + ANSWER))
    with session:
        session.write(b"{", deadline=time.monotonic() + 30)
        assert session.wait_read(deadline=time.monotonic() + 30)
        started = time.monotonic()
        took = session.terminate(grace_s=0.2)
    calls.close()

    assert took is None
    assert time.monotonic() - started >= 0.2
