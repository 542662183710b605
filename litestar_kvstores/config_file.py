"""The plugin's settings from a TOML file: ``KVStoresConfig.from_file("kvstores.toml")``.

::

    # kvstores.toml
    default = "redis://${REDIS_HOST:-localhost}:6379/0"
    cleanup_interval = 30

    [stores]
    response_cache = "file://./cache"            # a name and its URL
    sessions = { url = "${SESSIONS_URL}" }       # or a table: the URL and the store's wrapper options

Top-level keys are :class:`~litestar_kvstores.plugin.KVStoresConfig`'s fields; the same keys under a ``[kvstores]``
table are accepted too (for a file shared with other tools). Every string may use ``${VAR}`` (the variable must be
set) and ``${VAR:-default}``; ``$$`` is a literal ``$``. An unknown setting, a value of the wrong type or an unset
variable without default raises ``ValueError`` naming it and the file.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from types import UnionType
from typing import TYPE_CHECKING, Any, Union, get_args, get_origin, get_type_hints

from .wrappers.config import compile_wrappers

if TYPE_CHECKING:
    from .plugin import KVStoresConfig

__all__ = ("read_config_file",)

_VARIABLE = re.compile(r"\$(?:\$|\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\})")


def _fits(value: Any, annotation: Any) -> bool:
    """Whether a TOML ``value`` fits the type ``annotation`` of a config field (unions, mappings, scalars)."""
    origin = get_origin(annotation)
    if origin in (Union, UnionType):
        return any(_fits(value, option) for option in get_args(annotation))
    if annotation is type(None):
        return False  # TOML has no null: a setting left out keeps its default
    if annotation is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if annotation is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if origin is not None and isinstance(origin, type) and issubclass(origin, Mapping):
        return isinstance(value, dict)
    return isinstance(annotation, type) and isinstance(value, annotation)


def _describe(annotation: Any) -> str:
    if get_origin(annotation) in (Union, UnionType):
        return " or ".join(_describe(option) for option in get_args(annotation) if option is not type(None))
    if (origin := get_origin(annotation)) is not None and issubclass(origin, Mapping):
        return "a table"
    return getattr(annotation, "__name__", str(annotation))


def _interpolate(text: str, environ: Mapping[str, str], where: str) -> str:
    def replace(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        if name is None:
            return "$"
        if name in environ:
            return environ[name]
        if default is not None:
            return default
        raise ValueError(f"{where}: the variable {name} is not set and has no default (${{{name}:-...}})")

    return _VARIABLE.sub(replace, text)


def _resolve(value: Any, environ: Mapping[str, str], where: str) -> Any:
    """``value`` with ``${VAR}`` replaced in every string, recursively."""
    if isinstance(value, str):
        return _interpolate(value, environ, where)
    if isinstance(value, dict):
        return {key: _resolve(item, environ, f"{where}.{key}") for key, item in value.items()}
    if isinstance(value, list):
        return [_resolve(item, environ, f"{where}[{index}]") for index, item in enumerate(value)]
    return value


def read_config_file(
    config_class: type[KVStoresConfig], path: str | os.PathLike[str], environ: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """Return the keyword arguments of :class:`KVStoresConfig` that the TOML file at ``path`` sets.

    A store given as a table becomes its ``url`` in ``stores`` and its other keys (wrapper options, see
    :mod:`litestar_kvstores.wrappers.config`) in ``wrappers`` under its name.

    Raises:
        ValueError: the file is not valid TOML, a setting is unknown or of the wrong type, a store table has no
            ``url``, or a variable is unset without default; the message names the file and the setting.
        OSError: the file cannot be read.
    """
    variables = os.environ if environ is None else environ
    file_name = os.fspath(path)
    try:
        document = tomllib.loads(Path(file_name).read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{file_name}: not valid TOML: {exc}") from None
    nested = document.pop("kvstores", None)
    if nested is not None:
        if not isinstance(nested, dict) or document:
            raise ValueError(f"{file_name}: put the settings either at the top level or in [kvstores], not both")
        document = nested
    annotations = get_type_hints(config_class)
    settings: dict[str, Any] = {}
    for name, value in document.items():
        where = f"{file_name}: {name}"
        if name not in annotations or name.startswith("_"):
            known = ", ".join(sorted(name for name in annotations if not name.startswith("_")))
            raise ValueError(f"{where}: unknown setting (known: {known})")
        if not _fits(value, annotations[name]):
            raise ValueError(f"{where}: expected {_describe(annotations[name])}, got {type(value).__name__}")
        settings[name] = _resolve(value, variables, where)
    if "stores" in settings:
        settings["stores"], options = _split_stores(settings["stores"], file_name)
        for name, table in options.items():
            try:  # checked now, so a wrong option is reported with the file that holds it
                compile_wrappers(table, store=name, environ=variables)
            except (TypeError, ValueError) as exc:
                raise ValueError(f"{file_name}: stores.{name}: {exc}") from None
        if options:
            settings["wrappers"] = {**settings.get("wrappers", {}), **options}
    return settings


def _split_stores(stores: dict[str, Any], file_name: str) -> tuple[dict[str, str], dict[str, dict[str, Any]]]:
    """``[stores]`` as (URL by name, wrapper options by name)."""
    urls: dict[str, str] = {}
    options: dict[str, dict[str, Any]] = {}
    for name, spec in stores.items():
        where = f"{file_name}: stores.{name}"
        if isinstance(spec, str):
            urls[name] = spec
        elif isinstance(spec, dict):
            table = dict(spec)
            url = table.pop("url", None)
            if not isinstance(url, str):
                raise ValueError(f"{where}: a store table needs a url string")
            urls[name] = url
            if table:
                options[name] = table
        else:
            raise ValueError(f"{where}: expected a URL string or a table with a url")
    return urls, options
