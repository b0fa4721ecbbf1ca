"""Console sessions, CSRF tokens and the Host / Origin checks."""

from __future__ import annotations

import pytest

from chronik.console.sessions import (
    MAX_SESSIONS,
    Forbidden,
    Sessions,
    check_write,
    cookie_value,
    host_allowed,
    served_hosts,
)


def test_cookie_value():
    assert cookie_value("a=1; chronik_console=abc; b=2", "chronik_console") == "abc"
    assert cookie_value("a=1", "chronik_console") is None
    assert cookie_value(None, "x") is None


def test_sessions_without_auth_are_anonymous_and_bounded():
    s = Sessions(auth_required=False)
    one = s.new()
    assert one.principal == "User:ANONYMOUS" and one.csrf != one.sid
    assert s.get(f"chronik_console={one.sid}") is one
    assert s.get("chronik_console=forged") is None
    for _ in range(MAX_SESSIONS + 5):
        s.new()
    assert s.get(f"chronik_console={one.sid}") is None  # the oldest went first
    name, value = Sessions.set_cookie(one)
    assert name == "set-cookie" and "HttpOnly" in value and "SameSite=Strict" in value


def test_sessions_with_auth_start_without_a_principal():
    assert Sessions(auth_required=True).new().principal is None


def test_served_hosts_and_host_check():
    served = served_hosts("http://127.0.0.1:9644")
    assert {"127.0.0.1:9644", "localhost:9644", "[::1]:9644"} <= served
    assert host_allowed("LOCALHOST:9644", served)
    assert not host_allowed("evil.example:9644", served) and not host_allowed(None, served)
    assert served_hosts("http://10.0.0.5:80") == {"10.0.0.5:80", "10.0.0.5"}
    assert served_hosts("http://0.0.0.0:9644") is None and host_allowed("anything", None)


def test_check_write():
    s = Sessions(auth_required=False).new()
    check_write(s, s.csrf, "http://127.0.0.1:9644", "127.0.0.1:9644")
    check_write(s, s.csrf, None, "127.0.0.1:9644")
    for session, token, origin, host in ((None, s.csrf, None, "h:1"), (s, None, None, "h:1"), (s, "bad", None, "h:1"),
                                         (s, s.csrf, "http://evil:1", "h:1"), (s, s.csrf, "null", "h:1"),
                                         (s, s.csrf, "file://h:1", "h:1")):
        with pytest.raises(Forbidden):
            check_write(session, token, origin, host)
