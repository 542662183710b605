"""Wrappers from configuration: a mapping of wrapper options per store, from ``KVStoresConfig`` or the environment.

Options of one store (every entry optional; ``true`` means "with the defaults", ``false`` or absent means "not")::

    {
        "retry": {"attempts": 3, "backoff": 0.1},
        "fallback": {"store": "memory://"},                 # a URL: a new store per wrapped store
        "encrypt": {"key_env": "SESSION_KEY"},              # or "key_file": "/run/secrets/key", or "keys": [...]
        "compress": {"min_size": 1024, "algorithm": "zstd"},
        "tiered": {"near": "memory://?max_entries=10000", "near_ttl": 5},
        "limit": {"max_value_bytes": 1048576, "max_ttl": 86400, "default_ttl": 3600},
        "read_only": True,
        "instrument": True,                                 # or {"name": ...}; the store's name by default
    }

Whatever the mapping's order, they are applied in the order above, innermost first: retries closest to the
backend, encryption of the caller's (compressed) values, compression before encryption, limits on what the caller
passes, and instrumentation outermost (it counts what the application sees).

Encryption keys come from environment variables or files, never from a URL: ``key_env`` names one variable or a
list of them, ``key_file`` a file; a variable or file may hold several keys separated by commas, spaces or lines
(lines starting with ``#`` are ignored), the first key encrypts. Everything is checked and every key read when the
configuration is compiled (the plugin does it at start-up): a missing variable raises ``ValueError`` naming it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from litestar.stores.base import Store

from ..base import KVStore
from ..urls import parameter_names, store_from_url
from .keys import decode_key

__all__ = (
    "ENCRYPTION_KEY_FILE_SUFFIX",
    "ENCRYPTION_KEY_SUFFIX",
    "WRAPPER_ORDER",
    "compile_wrappers",
    "wrap_registry_stores",
    "wrapper_variable",
    "wrappers_from_env",
)

Wrap = Callable[[KVStore], KVStore]

WRAPPER_ORDER = ("retry", "fallback", "encrypt", "compress", "tiered", "limit", "read_only", "instrument")
"""Every wrapper option, innermost first."""

DEFAULT_NAME = "default"
"""The name under which wrapper options apply to the default store (and so to every namespace it hands out)."""

ENCRYPTION_KEY_SUFFIX = "_ENCRYPTION_KEY"
ENCRYPTION_KEY_FILE_SUFFIX = "_ENCRYPTION_KEY_FILE"
"""``KVSTORES_<NAME>_ENCRYPTION_KEY`` (keys) / ``KVSTORES_<NAME>_ENCRYPTION_KEY_FILE`` (a path) encrypt ``<name>``."""

_KEY_SEPARATORS = re.compile(r"[\s,]+")


def _split_keys(text: str) -> list[str]:
    lines = (line for line in text.splitlines() if not line.lstrip().startswith("#"))
    return [key for line in lines for key in _KEY_SEPARATORS.split(line) if key]


def _decoded(keys: list[Any], source: str, store: str) -> list[bytes]:
    """Return ``keys`` as 32-byte keys; a bad one raises an error naming ``source`` (never the key)."""
    try:
        return [decode_key(key) for key in keys]
    except (TypeError, ValueError) as exc:
        raise type(exc)(f"{source} of the store {store!r}: {exc}") from None


def _read_keys(options: dict[str, Any], store: str, environ: Mapping[str, str]) -> list[bytes]:
    """Remove ``keys``, ``key_env`` and ``key_file`` from ``options``; return the keys they give, in order.

    Raises:
        ValueError: a variable is unset, the file cannot be read, a key is invalid, or there is no key at all.
    """
    given = options.pop("keys", None) or []
    if isinstance(given, str | bytes):
        raise TypeError(f"The option 'keys' of the store {store!r} must be a list of keys")
    keys = _decoded(list(given), "The option 'keys'", store)
    variables = options.pop("key_env", None) or []
    for variable in [variables] if isinstance(variables, str) else list(variables):
        if variable not in environ:
            raise ValueError(f"The encryption key variable {variable} of the store {store!r} is not set")
        found = _split_keys(environ[variable])
        if not found:
            raise ValueError(f"The encryption key variable {variable} of the store {store!r} is empty")
        keys += _decoded(found, f"The variable {variable}", store)
    key_file = options.pop("key_file", None)
    if key_file is not None:
        try:
            text = Path(key_file).read_text()
        except OSError as exc:
            raise ValueError(
                f"The encryption key file {key_file} of the store {store!r} cannot be read ({type(exc).__name__})"
            ) from None
        keys += _decoded(_split_keys(text), f"The key file {key_file}", store)
    if not keys:
        raise ValueError(f"The store {store!r} is to be encrypted but no key is configured: set key_env or key_file")
    return keys


def _url(spec: object, what: str) -> str:
    """Return ``spec`` if it is a URL: each wrapped store gets a new store of it, so namespaces never share one."""
    if not isinstance(spec, str):
        raise TypeError(f"{what} must be a store URL, not {type(spec).__name__}")
    return spec


def _open(url: str) -> KVStore:
    store = store_from_url(url)
    if not isinstance(store, KVStore):
        raise TypeError(f"The URL's store {type(store).__name__} is not a store of litestar_kvstores")
    return store


def _wrapper(kind: str, options: dict[str, Any], store: str, environ: Mapping[str, str]) -> Wrap:
    """Return the function applying the wrapper ``kind`` with ``options`` (checked, keys read)."""
    from . import (
        CompressedStore,
        FallbackStore,
        InstrumentedStore,
        LimitedStore,
        ReadOnlyStore,
        RetryStore,
        TieredStore,
    )

    if kind == "encrypt":
        from .encrypted import EncryptedStore

        keys = _read_keys(options, store, environ)
        _check_names(kind, options, store, EncryptedStore)
        return lambda inner: EncryptedStore(inner, keys, **options)
    if kind == "fallback":
        fallback = _url(options.pop("store", "memory://"), "fallback.store")
        _check_names(kind, options, store, FallbackStore)
        return lambda inner: FallbackStore(inner, _open(fallback), **options)
    if kind == "tiered":
        near = _url(options.pop("near", "memory://?max_entries=10000"), "tiered.near")
        _check_names(kind, options, store, TieredStore)
        return lambda inner: TieredStore(_open(near), inner, **options)
    if kind == "instrument":
        options.setdefault("name", store)
    classes: dict[str, type[KVStore]] = {
        "retry": RetryStore,
        "compress": CompressedStore,
        "limit": LimitedStore,
        "read_only": ReadOnlyStore,
        "instrument": InstrumentedStore,
    }
    cls = classes[kind]
    _check_names(kind, options, store, cls)
    return lambda inner: cls(inner, **options)  # type: ignore[call-arg]


def _check_names(kind: str, options: Mapping[str, Any], store: str, cls: type[KVStore]) -> None:
    accepted = parameter_names(cls.__init__) - {"store", "primary", "fallback", "near", "far", "keys"}
    unknown = sorted(set(options) - accepted)
    if unknown:
        raise ValueError(f"Unknown option(s) {', '.join(map(repr, unknown))} of {kind!r} for the store {store!r}")


def compile_wrappers(
    options: Mapping[str, Any], *, store: str, environ: Mapping[str, str] | None = None
) -> Wrap | None:
    """Check the wrapper ``options`` of the store named ``store`` and read its keys now; return what applies them.

    Args:
        options: Wrapper name -> ``True``, ``False``/``None`` or a mapping of the wrapper's options.
        store: The store's name, for error messages and as the default metrics name.
        environ: Where ``key_env`` variables are looked up (``os.environ`` when ``None``).

    Returns:
        A function wrapping a store as configured (``None`` when no wrapper is configured). Each call makes new
        wrappers (and new ``fallback``/``tiered`` stores from their URLs).

    Raises:
        ValueError: an unknown wrapper or option (named), an invalid option value, an unset key variable (named),
            an unreadable key file, or a key that is not 32 bytes of base64.
        TypeError: an option has a wrong type.
    """
    if not isinstance(options, Mapping):
        raise TypeError(f"The wrapper options of the store {store!r} must be a mapping, not {type(options).__name__}")
    unknown = sorted(set(options) - set(WRAPPER_ORDER))
    if unknown:
        raise ValueError(
            f"Unknown wrapper(s) {', '.join(map(repr, unknown))} for the store {store!r}; "
            f"choose from {', '.join(WRAPPER_ORDER)}"
        )
    variables = os.environ if environ is None else environ
    steps: list[Wrap] = []
    for kind in WRAPPER_ORDER:
        setting = options.get(kind)
        if setting is None or setting is False:
            continue
        if setting is not True and not isinstance(setting, Mapping):
            raise TypeError(f"The option {kind!r} of the store {store!r} must be true, false or a mapping")
        steps.append(_wrapper(kind, {} if setting is True else dict(setting), store, variables))
    if not steps:
        return None

    def wrap(inner: KVStore) -> KVStore:
        for step in steps:
            inner = step(inner)
        return inner

    from ..memory import MemoryStore

    wrap(MemoryStore())  # every option value is checked now, at start-up, not when the store is first used
    return wrap


def wrapper_variable(variable: str, prefix: str) -> tuple[str, str] | None:
    """Return ``(store name, "key" | "key_file")`` if ``variable`` configures a store's encryption, else ``None``."""
    for suffix, what in ((ENCRYPTION_KEY_FILE_SUFFIX, "key_file"), (ENCRYPTION_KEY_SUFFIX, "key")):
        if variable.startswith(prefix) and variable.endswith(suffix) and len(variable) > len(prefix) + len(suffix):
            return variable[len(prefix) : -len(suffix)].lower(), what
    return None


def wrappers_from_env(environ: Mapping[str, str], prefix: str) -> dict[str, dict[str, Any]]:
    """Return the wrapper options the environment gives, by store name.

    ``<prefix><NAME>_ENCRYPTION_KEY`` (one or more keys, first encrypts) or ``<prefix><NAME>_ENCRYPTION_KEY_FILE``
    (a path) encrypt the store ``<name>`` (lower-cased; ``DEFAULT`` is the default store).
    """
    found: dict[str, dict[str, Any]] = {}
    for variable in environ:
        parsed = wrapper_variable(variable, prefix)
        if parsed is None:
            continue
        name, what = parsed
        encrypt = found.setdefault(name, {}).setdefault("encrypt", {})
        if what == "key":
            encrypt["key_env"] = variable
        else:
            encrypt["key_file"] = environ[variable]
    return found


def wrap_registry_stores(
    root: Store,
    named: Mapping[str, Store],
    wrappers: Mapping[str, Mapping[str, Any]],
    *,
    instrument: bool = False,
    environ: Mapping[str, str] | None = None,
) -> tuple[Store, dict[str, Store], Callable[[str], Store]]:
    """Apply ``wrappers`` (options by store name) to the stores of a registry.

    The options of ``"default"`` wrap the default root, so every namespace it hands out has them; the options of
    any other name wrap the named store of that name, or else the namespace the default factory makes for it.
    ``instrument`` adds ``"instrument": True`` to every name (the named stores and each namespace the factory
    makes, each counted under its own name).

    Returns:
        The wrapped root, the wrapped named stores, and the default factory (a name -> the root's namespace of that
        name, wrapped as configured).

    Raises:
        ValueError, TypeError: as :func:`compile_wrappers`; TypeError too when a store to be wrapped is not a
            store of litestar_kvstores.
    """
    compiled: dict[str, Wrap | None] = {}

    def compiled_for(name: str) -> Wrap | None:
        if name not in compiled:
            options = dict(wrappers.get(name, {}))
            if instrument and name != DEFAULT_NAME:
                options.setdefault("instrument", True)
            compiled[name] = compile_wrappers(options, store=name, environ=environ) if options else None
        return compiled[name]

    def apply(name: str, store: Store) -> Store:
        wrap = compiled_for(name)
        if wrap is None:
            return store
        if not isinstance(store, KVStore):
            raise TypeError(f"The store {name!r} cannot be wrapped: {type(store).__name__} is not a KVStore")
        return wrap(store)

    for name in wrappers:  # read every key now: a missing one fails at start-up
        compiled_for(name)
    wrapped_root = apply(DEFAULT_NAME, root)
    wrapped_named = {name: apply(name, store) for name, store in named.items()}

    def factory(name: str) -> Store:
        return apply(name, wrapped_root.with_namespace(name))  # type: ignore[attr-defined]

    return wrapped_root, wrapped_named, factory
