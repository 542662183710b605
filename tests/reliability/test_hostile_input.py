"""Hostile input: path-like, NUL and huge keys, escaping namespaces, huge values, wrong types, malformed URLs, and
credentials from a URL on every surface (logs, exceptions, ``repr``, CLI output, dashboard page).

Every input either gets the error the contract names or is stored safely: read back exactly, listed under its own
name, isolated from every other key, and (on the file store) never written outside the store's directory.
"""

from __future__ import annotations

import asyncio
import logging
import os
import traceback
from pathlib import Path
from typing import Any

import pytest

from litestar_kvstores import FileStore, store_from_url
from litestar_kvstores.base import KVStore
from tests.integration.test_dashboard import build, operator_client
from tests.support.cli import invoke
from tests.support.dashboard import CountingMemoryStore
from testservers.process import free_port

HOSTILE_KEYS = ["../x", "a/../../b", "/etc/passwd", "\x00", "k\x00k", ":", "LITESTAR:x", "*", "[a]", ".", ".."]
HOSTILE_KEYS += ["%tmp-1-1", "=x", "#x"]
MIB = 1024 * 1024


async def listed(store: KVStore) -> set[str]:
    return {key async for key in store.keys()}  # noqa: SIM118  (an async iterator)


async def test_path_like_nul_and_pattern_keys_are_stored_safely_and_apart(store: KVStore) -> None:
    for number, key in enumerate(HOSTILE_KEYS):
        await store.set(key, f"value-{number}")
    assert await store.get_many(HOSTILE_KEYS) == {key: f"value-{n}".encode() for n, key in enumerate(HOSTILE_KEYS)}
    assert await listed(store) == set(HOSTILE_KEYS)
    child = store.with_namespace("child")
    assert await child.get("../x") is None
    await child.set("../x", b"child")
    await store.delete("*")  # a glob character deletes its own key only
    assert await store.count() == len(HOSTILE_KEYS) - 1
    assert await store.get("../x") == b"value-0"


async def test_a_one_mebibyte_key_is_stored_or_refused_with_value_error(store: KVStore) -> None:
    key = "k" * MIB
    try:
        await store.set(key, b"big key")
    except ValueError:
        assert await store.count() == 0
        return
    assert await store.get(key) == b"big key"
    assert await listed(store) == {key}


async def test_huge_values_are_stored_whole_or_refused_keeping_the_old_value(store: KVStore) -> None:
    await store.set("big", b"old")
    huge = os.urandom(20 * MIB)
    try:
        await store.set("big", huge)
    except ValueError:  # MongoDB: larger than a document may be
        assert await store.get("big") == b"old"
        return
    assert await store.get("big") == huge


@pytest.mark.parametrize("name", ["..", ".", "/", ":", "a/b", "a:b", "", "\x00", "../etc", "ns\n", " ", "é"], ids=repr)
def test_namespaces_trying_to_escape_are_refused(store: KVStore, name: str) -> None:
    with pytest.raises(ValueError, match="namespace"):
        store.with_namespace(name)


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda s: s.set(1, b"v"), TypeError),
        (lambda s: s.set(b"k", b"v"), TypeError),
        (lambda s: s.set("k", 1), TypeError),
        (lambda s: s.set("k", bytearray(b"v")), TypeError),
        (lambda s: s.set("k", None), TypeError),
        (lambda s: s.set("k", b"v", expires_in="5"), TypeError),
        (lambda s: s.set("k", b"v", expires_in=True), TypeError),
        (lambda s: s.set("k", b"v", expires_in=float("nan")), ValueError),
        (lambda s: s.set("k", b"v", expires_in=float("inf")), ValueError),
        (lambda s: s.set("k", b"v", expires_in=-1), ValueError),
        (lambda s: s.get("k", renew_for=0), ValueError),
        (lambda s: s.get(None), TypeError),
        (lambda s: s.incr("k", 1.5), TypeError),
        (lambda s: s.incr("k", 2**64), ValueError),
        (lambda s: s.delete(""), ValueError),
        (lambda s: s.set_many({"ok": b"v", "": b"v"}), ValueError),
    ],
)
async def test_wrong_types_get_the_contracts_error_and_write_nothing(store: KVStore, call: Any, error: type) -> None:
    with pytest.raises(error):
        await call(store)
    assert await store.count() == 0


async def test_nothing_is_written_outside_the_file_stores_directory(tmp_path: Path) -> None:
    directory = tmp_path / "inside" / "store"
    async with FileStore(directory) as store:
        for key in [*HOSTILE_KEYS, "../../outside", "/tmp/absolute", "k" * MIB]:
            await store.set(key, b"x")
            await store.with_namespace("a..b").set(key, b"y")
        await store.incr("../n")
        await store.delete_expired()
    everything = await asyncio.to_thread(lambda: list(tmp_path.rglob("*")))
    outside = [path for path in everything if directory not in path.parents and path != directory]
    assert sorted(outside) == [tmp_path / "inside"]


SECRET_USER = "hostile-user"
SECRET_PASSWORD = "t0p-s3cret-pw"
CREDENTIALED = {
    "redis": "redis://{user}:{password}@127.0.0.1:{port}/0",
    "valkey": "valkey://{user}:{password}@127.0.0.1:{port}/0",
    "redis-cluster": "redis+cluster://{user}:{password}@127.0.0.1:{port}",
    "mongo": "mongodb://{user}:{password}@127.0.0.1:{port}/?serverSelectionTimeoutMS=300&authSource=admin",
}


def credentialed_url(scheme: str) -> str:
    """A URL with credentials of a loopback port nothing listens on."""
    return CREDENTIALED[scheme].format(user=SECRET_USER, password=SECRET_PASSWORD, port=free_port())


def assert_no_secret(text: str, surface: str) -> None:
    assert SECRET_PASSWORD not in text, f"the password appears in {surface}"
    assert SECRET_USER not in text, f"the user name appears in {surface}"


@pytest.mark.parametrize("scheme", list(CREDENTIALED))
async def test_no_credential_in_logs_exceptions_or_repr(scheme: str, caplog: pytest.LogCaptureFixture) -> None:
    url = credentialed_url(scheme)
    with caplog.at_level(logging.DEBUG):
        store = store_from_url(url)
        assert isinstance(store, KVStore)
        assert_no_secret(repr(store), "repr")
        assert_no_secret(store.address, "address")
        async with store:
            for operation in (store.get("k"), store.set("k", b"v"), store.ping(), store.count()):
                with pytest.raises(Exception) as caught:  # noqa: PT011  (the surface under test is the message)
                    await operation
                assert_no_secret("".join(traceback.format_exception(caught.value)), "a traceback")
    assert_no_secret(caplog.text, "the log")


@pytest.mark.parametrize(
    "url",
    [
        "redis://{user}:{password}@127.0.0.1:notaport/0",
        "redis://{user}:{password}@[::1/0",
        "redis://{user}:{password}@127.0.0.1:6379/0?nosuchoption=1",
        "valkey+cluster://{user}:{password}@/",
        "mongodb://{user}:{password}@127.0.0.1:1/?noSuchOption=1",
        "mongodb://{user}:{password}@",
        "nosuchscheme://{user}:{password}@host/",
        "memory://{user}:{password}@?max_entries=-1",
        "file://{user}:{password}@host/tmp/x?nosuch=1",
    ],
)
def test_malformed_urls_raise_value_error_without_credentials(url: str) -> None:
    with pytest.raises(ValueError) as caught:  # noqa: PT011  (the message is checked below)
        store_from_url(url.format(user=SECRET_USER, password=SECRET_PASSWORD))
    assert_no_secret("".join(traceback.format_exception(caught.value)), "the error")


@pytest.mark.parametrize("scheme", ["redis", "mongo"])
def test_no_credential_in_cli_output(scheme: str) -> None:
    url = credentialed_url(scheme)
    for command in ("list", "stats", "delete-expired"):
        result = invoke({"KVSTORES_SESSIONS": url, "KVSTORES_DEFAULT": "memory://"}, command)
        assert "sessions" in result.output
        assert_no_secret(result.output, f"`litestar stores {command}`")
        if result.exception is not None:
            assert_no_secret("".join(traceback.format_exception(result.exception)), "the CLI's error")


@pytest.mark.parametrize("scheme", ["redis", "mongo"])
async def test_no_credential_on_the_dashboard(scheme: str) -> None:
    app, _, _ = build(broken=credentialed_url(scheme), counted=CountingMemoryStore())
    async with operator_client(app) as client:
        for page in ("/stores", "/stores/confirm?action=clear&store=broken"):
            response = await client.get(page)
            assert response.status_code == 200, page
            assert_no_secret(response.text, f"the dashboard page {page}")
