"""forwarded_for_identifier: X-Forwarded-For is believed only when a trusted proxy sent it."""

from __future__ import annotations

from typing import Any

import pytest
from litestar import Request
from litestar.testing import AsyncTestClient

from litestar_kvstores.rate_limit import forwarded_for_identifier
from tests.support.rate_limit import limited_app, statuses

TRUSTED = ["10.0.0.1", "192.168.0.0/16", "::1"]


def request_from(peer: str | None, *forwarded: str) -> Request[Any, Any, Any]:
    """A real request whose connection comes from ``peer`` with one ``X-Forwarded-For`` header per value."""
    scope: dict[str, Any] = {
        "type": "http",
        "method": "GET",
        "path": "/",
        "headers": [(b"x-forwarded-for", value.encode()) for value in forwarded],
        "client": (peer, 50000) if peer is not None else None,
    }
    return Request(scope)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("peer", "forwarded", "expected"),
    [
        ("203.0.113.9", ["1.2.3.4"], "203.0.113.9"),  # an untrusted peer cannot choose its identifier
        ("203.0.113.9", [], "203.0.113.9"),
        ("10.0.0.1", ["1.2.3.4"], "1.2.3.4"),
        ("10.0.0.1", ["6.6.6.6, 1.2.3.4"], "1.2.3.4"),  # the client's own entry on the left is ignored
        ("10.0.0.1", ["6.6.6.6, 1.2.3.4, 192.168.3.4"], "1.2.3.4"),  # trusted hops are skipped
        ("10.0.0.1", ["6.6.6.6", "1.2.3.4"], "1.2.3.4"),  # several header lines are one list
        ("10.0.0.1", ["192.168.1.1, 192.168.1.2"], "192.168.1.1"),  # only proxies: the farthest one
        ("10.0.0.1", [], "10.0.0.1"),
        ("10.0.0.1", ["garbage, 1.2.3.4"], "1.2.3.4"),
        ("10.0.0.1", ["unknown"], "unknown"),  # not an address: answered as the proxy wrote it
        ("::1", ["2001:DB8::1"], "2001:db8::1"),  # normalized
        ("0:0:0:0:0:0:0:1", ["1.2.3.4"], "1.2.3.4"),  # the peer is matched as an address, not as text
        ("testclient", ["1.2.3.4"], "testclient"),
        (None, ["1.2.3.4"], "127.0.0.1"),
    ],
)
def test_the_identifier(peer: str | None, forwarded: list[str], expected: str) -> None:
    assert forwarded_for_identifier(TRUSTED)(request_from(peer, *forwarded)) == expected


def test_another_header_can_be_named() -> None:
    identify = forwarded_for_identifier(["10.0.0.1"], header="X-Real-Client")
    scope: dict[str, Any] = {"type": "http", "headers": [(b"x-real-client", b"1.2.3.4")], "client": ("10.0.0.1", 1)}
    request: Request[Any, Any, Any] = Request(scope)  # type: ignore[arg-type]
    assert identify(request) == "1.2.3.4"
    assert identify(request_from("10.0.0.1", "6.6.6.6")) == "10.0.0.1"


@pytest.mark.parametrize(
    ("trusted", "error", "message"),
    [
        (["10.0.0.300"], ValueError, "'10.0.0.300' is not an IP address or network"),
        (["proxy.internal"], ValueError, "'proxy.internal' is not an IP address or network"),
        ("10.0.0.1", TypeError, "not a single str"),
        ([10], TypeError, "not int"),
    ],
)
def test_bad_trusted_proxies_are_refused(trusted: Any, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        forwarded_for_identifier(trusted)


async def test_a_spoofed_header_from_an_untrusted_peer_does_not_escape_the_limit() -> None:
    app = limited_app("memory://", limits=[("minute", 2)], identifier_for_request=forwarded_for_identifier(TRUSTED))
    async with AsyncTestClient(app) as client:  # the test client's peer is "testclient", not a trusted proxy
        responses = [await client.get("/a", headers={"X-Forwarded-For": f"1.2.3.{i}"}) for i in range(4)]
    assert statuses(responses) == [200, 200, 429, 429]
