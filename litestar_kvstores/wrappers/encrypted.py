"""Authenticated encryption of values (AES-256-GCM), with key rotation.

Each value is stored as an envelope::

    magic b"\\x00kve" | format version (1 byte) | key id (4 bytes) | nonce (12 random bytes) | ciphertext + 16-byte tag

The key id is the first 4 bytes of SHA-256 over a fixed label and the key, so it names a key without revealing it.
The header and the store key are the associated data: a value moved to another key, or with any byte changed, fails
authentication. Keys are *not* encrypted (operators can find them, and they must stay usable for ``delete_all``).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ..errors import StoreError
from ..operations import key_batches, read_batch, walk
from ..validation import INT64_MAX, INT64_MIN, check_key, encode_value
from .base import StoreWrapper
from .keys import decode_key

if TYPE_CHECKING:
    from ..base import TTL, KVStore
    from ..operations import Progress

__all__ = ("EncryptedStore",)

logger = logging.getLogger("litestar_kvstores.wrappers")

MAGIC = b"\x00kve"
VERSION = 1
_NONCE_BYTES = 12
_KEY_ID_BYTES = 4
_HEADER_BYTES = len(MAGIC) + 1 + _KEY_ID_BYTES
_MIN_ENVELOPE = _HEADER_BYTES + _NONCE_BYTES + 16
_KEY_ID_LABEL = b"litestar-kvstores key id v1\x00"
# What incr writes and reads: a canonical signed 64-bit decimal (no sign on 0, no leading zeros).
_COUNTER = re.compile(rb"0|-?[1-9][0-9]{0,18}")


def _key_id(key: bytes) -> bytes:
    return hashlib.sha256(_KEY_ID_LABEL + key).digest()[:_KEY_ID_BYTES]


def _is_counter(data: bytes) -> bool:
    return len(data) <= 20 and _COUNTER.fullmatch(data) is not None and INT64_MIN <= int(data) <= INT64_MAX


class _Keyring:
    """The ciphers of the configured keys by key id; the first key encrypts."""

    __slots__ = ("ciphers", "primary_id")

    def __init__(self, keys: Sequence[bytes | str]) -> None:
        if isinstance(keys, str | bytes) or not isinstance(keys, Sequence):
            raise TypeError(f"keys must be a list of keys (first encrypts), not {type(keys).__name__}")
        if not keys:
            raise ValueError("keys must hold at least one key")
        self.ciphers: dict[bytes, AESGCM] = {}
        for key in keys:
            raw = decode_key(key)
            key_id = _key_id(raw)
            if key_id in self.ciphers:
                raise ValueError("keys holds the same key twice")
            self.ciphers[key_id] = AESGCM(raw)
        self.primary_id = next(iter(self.ciphers))


class EncryptedStore(StoreWrapper):
    """Encrypts every value with AES-256-GCM before it reaches ``store``; reading decrypts and authenticates it.

    A random 96-bit nonce per value; the first key encrypts, every key decrypts (rotate by putting a new key first,
    then run :meth:`reencrypt`, then drop the old key). Keys of the store (session ids, cache keys) are stored as
    they are and are not secret.

    A value that was tampered with, truncated, written under a key that is not configured, written by a newer
    format version, or written without encryption reads as missing and is logged at WARNING (without the key of
    the entry); it is left in place, so a misconfigured key list loses nothing.

    Counters: ``incr`` must stay atomic on the server, so integers pass through unencrypted. With
    ``plain_integers=True`` (the default) a value that is a canonical decimal integer (``b"42"``, what ``incr``
    writes) is stored as plain text and read back as is; every other value is encrypted. The rate limiter works
    over an encrypted store this way. With ``plain_integers=False`` every value is encrypted, a stored plain
    integer reads as missing, and ``incr`` raises :class:`~litestar_kvstores.StoreError`.

    Args:
        store: The store to hold the encrypted values.
        keys: 32-byte keys as ``bytes`` or base64 text; the first encrypts.
        plain_integers: Store canonical integers unencrypted so that ``incr`` works (see above).

    Raises:
        TypeError: ``keys`` is not a list, or a key is neither ``bytes`` nor ``str``.
        ValueError: ``keys`` is empty, a key is not 32 bytes (or not base64), or a key is given twice.
    """

    __slots__ = ("_keyring", "plain_integers")

    transforms_values = True

    def __init__(self, store: KVStore, keys: Sequence[bytes | str], *, plain_integers: bool = True) -> None:
        super().__init__(store)
        self._keyring = _Keyring(keys)
        self.plain_integers = bool(plain_integers)

    def __repr__(self) -> str:
        return f"EncryptedStore({self.store!r}, keys={len(self._keyring.ciphers)})"

    def _encode(self, key: str, value: str | bytes) -> bytes:
        aad = check_key(key).encode()
        data = encode_value(value)
        if self.plain_integers and _is_counter(data):
            return data
        header = MAGIC + bytes([VERSION]) + self._keyring.primary_id
        nonce = os.urandom(_NONCE_BYTES)
        return header + nonce + self._keyring.ciphers[self._keyring.primary_id].encrypt(nonce, data, header + aad)

    def _decode(self, key: str, stored: bytes) -> bytes | None:
        if not stored.startswith(MAGIC):
            if self.plain_integers and _is_counter(stored):
                return stored
            return self._unreadable("it is not encrypted")
        if len(stored) < _MIN_ENVELOPE:
            return self._unreadable("it is truncated")
        if stored[len(MAGIC)] != VERSION:
            return self._unreadable(f"it was written by a newer format version ({stored[len(MAGIC)]})")
        header = stored[:_HEADER_BYTES]
        cipher = self._keyring.ciphers.get(header[-_KEY_ID_BYTES:])
        if cipher is None:
            return self._unreadable("its key is not configured")
        nonce = stored[_HEADER_BYTES : _HEADER_BYTES + _NONCE_BYTES]
        try:
            return cipher.decrypt(nonce, stored[_HEADER_BYTES + _NONCE_BYTES :], header + key.encode())
        except InvalidTag:
            return self._unreadable("it fails authentication (tampered with, truncated or moved)")

    def _unreadable(self, reason: str) -> bytes | None:
        """Log why a value cannot be read (never its key) and return ``None``: it reads as missing."""
        logger.warning("EncryptedStore at %s: a value reads as missing because %s", self.address, reason)
        return None

    async def incr(self, key: str, amount: int = 1, expires_in: TTL | None = None) -> int:
        """Add ``amount`` to the plain-text counter ``key``; see :meth:`KVStore.incr`.

        Raises:
            StoreError: the store was made with ``plain_integers=False``.
            ValueError: the stored value is not an integer (an encrypted value never is).
        """
        if not self.plain_integers:
            raise StoreError("EncryptedStore(plain_integers=False) cannot incr: counters are stored as plain text")
        return await super().incr(key, amount, expires_in)

    def needs_reencryption(self, stored: bytes) -> bool:
        """Return ``True`` if ``stored`` is an envelope that a key other than the first one encrypted."""
        return (
            stored.startswith(MAGIC)
            and len(stored) >= _MIN_ENVELOPE
            and stored[len(MAGIC)] == VERSION
            and stored[len(MAGIC) + 1 : _HEADER_BYTES] != self._keyring.primary_id
        )

    async def reencrypt(self, *, dry_run: bool = False, progress: Progress | None = None) -> int:
        """Rewrite every value of this namespace and of its descendant namespaces that an older key encrypted, under
        the first key, keeping each entry's expiry (rounded up to a second).

        The namespaces are walked as :func:`~litestar_kvstores.operations.walk` does (``namespaces()``, the
        contract's namespace listing); a store that cannot list them raises ``NotImplementedError`` once this
        namespace is done. Plain-text counters and values that cannot be decrypted are left
        as they are (the latter logged at WARNING). Each value is replaced with ``compare_and_set``: a value that
        another writer replaces while this runs keeps that writer's value (it is not counted), so it is safe to run
        while the application writes.

        Args:
            dry_run: Only count the values an older key encrypted (and that the configured keys decrypt); write
                nothing.
            progress: Called for each key with (1, the bytes of its stored value, 0 when it was missing), batch by
                batch.

        Returns:
            How many values were rewritten (with ``dry_run``: would be).
        """
        rewritten = 0
        async for _, namespace in walk(self):
            rewritten += await namespace._reencrypt_keys(dry_run, progress)
        return rewritten

    async def _reencrypt_keys(self, dry_run: bool, progress: Progress | None) -> int:
        """:meth:`reencrypt` for the keys of this namespace only, in batches: three round trips a batch."""
        rewritten = 0
        async for keys in key_batches(self.store):
            replacements = []
            for key, stored, remaining in await read_batch(self.store, keys):
                if progress is not None:
                    progress(1, 0 if stored is None else len(stored))
                if stored is None or not self.needs_reencryption(stored):
                    continue
                value = self._decode(key, stored)
                if value is None:
                    continue
                if dry_run:
                    rewritten += 1
                else:
                    replacements.append(self.store.compare_and_set(key, stored, self._encode(key, value), remaining))
            rewritten += sum(await asyncio.gather(*replacements))
        return rewritten
