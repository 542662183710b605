"""Encryption key material: 32-byte keys given as bytes or base64 text (no dependency on ``cryptography``)."""

from __future__ import annotations

import base64
import binascii

__all__ = ("KEY_BYTES", "decode_key")

KEY_BYTES = 32


def decode_key(key: object) -> bytes:
    """Return the 32 bytes of an encryption key given as ``bytes`` or as base64 text (standard or URL-safe).

    Raises:
        TypeError: ``key`` is neither ``bytes`` nor ``str``.
        ValueError: ``key`` is not valid base64, or not 32 bytes long. The message never contains the key.
    """
    if isinstance(key, str):
        try:
            raw = base64.b64decode(key.strip().translate(str.maketrans("-_", "+/")), validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("An encryption key given as text must be base64 of 32 bytes") from None
    elif type(key) is bytes:
        raw = key
    else:
        raise TypeError(f"An encryption key must be bytes or base64 str, not {type(key).__name__}")
    if len(raw) != KEY_BYTES:
        raise ValueError(f"An encryption key must be {KEY_BYTES} bytes, got {len(raw)}")
    return raw
