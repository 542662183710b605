"""``litestar stores ...`` through Litestar's own CLI (click's CliRunner over ``litestar_group``)."""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path

import pytest
from litestar.cli._utils import LitestarGroup

from litestar_kvstores import KVStore, KVStoresPlugin, MemoryStore, store_from_url
from litestar_kvstores.cli import KVStoresCLIPlugin, StoreRefused, encrypted_store, stores_group
from litestar_kvstores.testing import ContractTraits
from litestar_kvstores.wrappers import EncryptedStore, ReadOnlyStore, TieredStore
from tests.support.backends import SHARED_BACKENDS
from tests.support.cli import invoke, line_of, read_encrypted, write_encrypted
from tests.support.wrappers import KEY_A, KEY_A_TEXT, KEY_B, KEY_B_TEXT


def fill(url: str, expired: int = 0, namespace: str | None = None) -> None:
    """Write two live entries (and ``expired`` already expired ones) through a store of its own."""

    async def write() -> None:
        async with store_from_url(url) as root:
            assert isinstance(root, KVStore)
            store = root if namespace is None else root.with_namespace(namespace)
            await store.set("a", b"1")
            await store.set("b", b"2")
            for index in range(expired):
                await store.set(f"old{index}", b"x", expires_in=0.01)
            await asyncio.sleep(0.05)

    asyncio.run(write())


def count_of(url: str, namespace: str) -> int:
    """How many keys the namespace ``namespace`` of the store at ``url`` holds, seen through a store of its own."""

    async def count() -> int:
        async with store_from_url(url) as root:
            assert isinstance(root, KVStore)
            return await root.with_namespace(namespace).count()

    return asyncio.run(count())


def shared(backend: str) -> bool:
    """Whether another store object on the same URL sees the same data (not so for ``memory://``)."""
    return backend != "memory"


def test_plugins_add_the_stores_group() -> None:
    for plugin in (KVStoresPlugin(), KVStoresCLIPlugin()):
        cli = LitestarGroup(name="litestar")
        plugin.on_cli_init(cli)
        assert cli.commands["stores"] is stores_group
        assert set(stores_group.commands) == {
            "list",
            "stats",
            "clear",
            "delete-expired",
            "reencrypt",
            "copy",
            "export",
            "import",
        }


def test_list(backend: str, store_url: str, tmp_path: Path) -> None:
    fill(store_url)
    result = invoke({"KVSTORES_DEFAULT": "memory://", "KVSTORES_SESSIONS": store_url}, "list")
    assert result.exit_code == 0, result.output
    fields = line_of(result, "sessions").split()
    assert fields[-1] == ("keys=2" if shared(backend) else "keys=0")
    assert fields[1].endswith("Store")
    if backend == "memory":
        assert fields[2] == "in-process"
    elif backend in ("file", "sqlite"):
        assert fields[2].startswith(str(tmp_path))
    else:
        assert "127.0.0.1:" in fields[2] or "localhost:" in fields[2]
    assert line_of(result, "(default)").split()[1:] == ["MemoryStore", "in-process", "keys=0"]


def test_stats(store_url: str) -> None:
    result = invoke({"KVSTORES_SESSIONS": store_url}, "stats")
    assert result.exit_code == 0, result.output
    assert "ping=" in line_of(result, "sessions")
    assert "keys=" in line_of(result, "sessions")


def test_clear_asks_first(backend: str, store_url: str) -> None:
    fill(store_url)
    environment = {"KVSTORES_SESSIONS": store_url}
    refused = invoke(environment, "clear", "sessions", answer="n\n")
    assert refused.exit_code == 0
    assert "aborted" in refused.output
    if shared(backend):
        assert line_of(invoke(environment, "list"), "sessions").endswith("keys=2")
    cleared = invoke(environment, "clear", "sessions", "--yes")
    assert cleared.exit_code == 0, cleared.output
    assert line_of(cleared, "sessions").endswith("cleared")
    assert line_of(invoke(environment, "list"), "sessions").endswith("keys=0")


def test_clear_a_namespace_of_the_default_store(backend: str, store_url: str) -> None:
    fill(store_url, namespace="sessions")
    environment = {"KVSTORES_DEFAULT": store_url}
    cleared = invoke(environment, "clear", "sessions", "--yes")
    assert cleared.exit_code == 0, cleared.output
    assert line_of(cleared, "sessions").endswith("cleared")
    if shared(backend):
        assert count_of(store_url, "sessions") == 0


def test_clear_an_unknown_store_of_a_plain_registry_fails() -> None:
    result = invoke({}, "clear", "nosuch", "--yes", app="tests.support.cli_app:create_plain_app")
    assert result.exit_code == 2
    assert "no store named 'nosuch'" in result.output
    listed = invoke({}, "list", app="tests.support.cli_app:create_plain_app")
    assert line_of(listed, "plain").endswith("keys=0")


def test_delete_expired(backend: str, store_url: str, request: pytest.FixtureRequest) -> None:
    fill(store_url, expired=3)
    result = invoke({"KVSTORES_SESSIONS": store_url}, "delete-expired")
    assert result.exit_code == 0, result.output
    traits = request.getfixturevalue(f"{backend}_traits")
    assert isinstance(traits, ContractTraits)
    removed = line_of(result, "sessions").split()[-1]
    if not shared(backend):
        assert removed == "removed=0"  # the CLI's memory:// store is a new, empty one
    elif traits.expires_natively:
        assert removed in ("removed=0", "removed=3")  # the server may have removed them first
    else:
        assert removed == "removed=3"
    assert line_of(result, "(default)").endswith("removed=0")


def test_an_unreachable_store_reports_on_its_line_and_the_others_go_on() -> None:
    environment = {
        "KVSTORES_BROKEN": "redis://alice:s3cret@127.0.0.1:9/0?socket_connect_timeout=0.5",
        "KVSTORES_ZZZ": "memory://",
    }
    result = invoke(environment, "list")
    assert result.exit_code == 1
    assert "error: StoreUnavailableError" in line_of(result, "broken")
    assert "127.0.0.1:9" in line_of(result, "broken")
    assert line_of(result, "zzz").endswith("keys=0")
    assert "s3cret" not in result.output
    assert "alice" not in result.output


def test_a_registry_of_litestars_own_is_refused_with_what_to_pass_instead() -> None:
    result = invoke({}, "list", app="tests.support.cli_app:create_litestar_registry_app")
    assert result.exit_code == 1
    assert "litestar_kvstores.StoreRegistry" in result.output


def test_the_address_column_shows_the_stores_own_address(tmp_path: Path) -> None:
    directory = tmp_path / "files"
    result = invoke({"KVSTORES_FILES": f"file://{directory}"}, "list")
    assert result.exit_code == 0, result.output
    assert str(directory) in line_of(result, "files")
    assert "in-process" in line_of(result, "(default)")


ROTATED = f"{KEY_B_TEXT},{KEY_A_TEXT}"
"""KVSTORES_<NAME>_ENCRYPTION_KEY after a rotation: the new key first (it encrypts), the old one still decrypts."""

SECRETS = {"a": b"one", "b": b"two"}
SECRETS_CHILD = {"c": b"three"}


def assert_no_key_material(output: str) -> None:
    for key in (KEY_A, KEY_B):
        assert base64.b64encode(key).decode() not in output
        assert key.hex() not in output


@pytest.mark.parametrize("backend", SHARED_BACKENDS)  # the CLI's memory:// store would be a new, empty one
def test_reencrypt_rewrites_the_values_of_an_old_key_under_the_new_one(store_url: str) -> None:
    write_encrypted(store_url, [KEY_A], SECRETS)
    write_encrypted(store_url, [KEY_A], SECRETS_CHILD, namespace="child")
    write_encrypted(store_url, [KEY_A], {"hits": b"7"})  # a plain-text counter: nothing to rewrite
    environment = {"KVSTORES_DEFAULT": "memory://", "KVSTORES_SECRETS": store_url}
    environment["KVSTORES_SECRETS_ENCRYPTION_KEY"] = ROTATED

    counted = invoke(environment, "reencrypt", "--dry-run")
    assert counted.exit_code == 0, counted.output
    assert line_of(counted, "secrets").endswith("would_rewrite=3")
    assert read_encrypted(store_url, [KEY_A], SECRETS) == SECRETS  # nothing written yet

    result = invoke(environment, "reencrypt")
    assert result.exit_code == 0, result.output
    assert line_of(result, "secrets").endswith("rewritten=3")
    assert "(default)" not in result.output  # not encrypted: not a default target
    assert read_encrypted(store_url, [KEY_B], SECRETS) == SECRETS
    assert read_encrypted(store_url, [KEY_B], SECRETS_CHILD, namespace="child") == SECRETS_CHILD
    assert read_encrypted(store_url, [KEY_B], {"hits": b"7"}) == {"hits": b"7"}
    assert read_encrypted(store_url, [KEY_A], SECRETS) == {"a": None, "b": None}  # the old key alone: unreadable

    again = invoke(environment, "reencrypt", "secrets")
    assert again.exit_code == 0, again.output
    assert line_of(again, "secrets").endswith("rewritten=0")
    for output in (counted.output, result.output, again.output):
        assert_no_key_material(output)


def test_reencrypt_finds_a_namespace_of_the_default_store_encrypted_by_name(tmp_path: Path) -> None:
    url = f"file://{tmp_path / 'store'}"
    write_encrypted(url, [KEY_A], SECRETS, namespace="sessions")
    write_encrypted(url, [KEY_A], {"other": b"x"}, namespace="other")
    environment = {"KVSTORES_DEFAULT": url, "KVSTORES_SESSIONS_ENCRYPTION_KEY": ROTATED}
    result = invoke(environment, "reencrypt")
    assert result.exit_code == 0, result.output
    assert line_of(result, "sessions").endswith("rewritten=2")
    assert read_encrypted(url, [KEY_B], SECRETS, namespace="sessions") == SECRETS
    assert result.output.count("rewritten=") == 1  # neither "(default)" nor "other": they are not encrypted


def test_reencrypt_of_the_default_store_covers_its_namespaces(tmp_path: Path) -> None:
    url = f"file://{tmp_path / 'store'}"
    write_encrypted(url, [KEY_A], SECRETS)
    write_encrypted(url, [KEY_A], SECRETS_CHILD, namespace="sessions")
    result = invoke({"KVSTORES_DEFAULT": url, "KVSTORES_DEFAULT_ENCRYPTION_KEY": ROTATED}, "reencrypt")
    assert result.exit_code == 0, result.output
    assert line_of(result, "(default)").endswith("rewritten=3")
    assert read_encrypted(url, [KEY_B], SECRETS) == SECRETS
    assert read_encrypted(url, [KEY_B], SECRETS_CHILD, namespace="sessions") == SECRETS_CHILD


def test_reencrypt_of_a_store_that_is_not_encrypted_says_so_and_exits_1(tmp_path: Path) -> None:
    url = f"file://{tmp_path / 'store'}"
    write_encrypted(url, [KEY_A], SECRETS)
    environment = {
        "KVSTORES_PLAIN": "memory://",
        "KVSTORES_SECRETS": url,
        "KVSTORES_SECRETS_ENCRYPTION_KEY": ROTATED,
    }
    result = invoke(environment, "reencrypt", "plain", "secrets")
    assert result.exit_code == 1
    assert "not encrypted" in line_of(result, "plain")
    assert line_of(result, "secrets").endswith("rewritten=2")  # the others go on
    assert_no_key_material(result.output)


def test_reencrypt_without_encrypted_stores_says_so() -> None:
    result = invoke({"KVSTORES_PLAIN": "memory://"}, "reencrypt")
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "no encrypted stores"


def test_reencrypt_of_an_unknown_store_fails_before_anything() -> None:
    result = invoke({}, "reencrypt", "nosuch", app="tests.support.cli_app:create_plain_app")
    assert result.exit_code == 2
    assert "no store named 'nosuch'" in result.output


def test_reencrypt_an_unreachable_store_reports_on_its_line_without_credentials() -> None:
    environment = {
        "KVSTORES_BROKEN": "redis://alice:s3cret@127.0.0.1:9/0?socket_connect_timeout=0.5",
        "KVSTORES_BROKEN_ENCRYPTION_KEY": ROTATED,
    }
    result = invoke(environment, "reencrypt")
    assert result.exit_code == 1
    assert "error: StoreUnavailableError" in line_of(result, "broken")
    assert "s3cret" not in result.output
    assert "alice" not in result.output
    assert_no_key_material(result.output)


def test_the_encrypted_store_is_found_through_wrappers_but_not_written_through_a_read_only_one() -> None:
    encrypted = EncryptedStore(MemoryStore(), keys=[KEY_A])
    assert encrypted_store(encrypted) is encrypted
    assert encrypted_store(TieredStore(MemoryStore(), encrypted)) is encrypted
    assert encrypted_store(MemoryStore()) is None
    assert encrypted_store(TieredStore(encrypted, MemoryStore())) is None  # only an encrypted near store
    with pytest.raises(StoreRefused, match="read-only"):
        encrypted_store(ReadOnlyStore(encrypted))
