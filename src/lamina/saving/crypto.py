"""Signed and encrypted model files, through the ``cryptography`` package (``pip install lamina[crypto]``).

Signing: ``metadata.json`` lists the SHA-256 of every other member; ``signature.json`` holds an Ed25519 signature
of ``metadata.json``'s bytes, so changing any byte of any member breaks either a checksum or the signature.

Encryption: each member other than ``metadata.json`` is stored as ``nonce || AES-256-GCM(data)`` with the member
name as associated data (members cannot be swapped); ``metadata.seal`` authenticates ``metadata.json`` under the
same key, and ``metadata.json`` carries a key fingerprint so that a wrong key is told apart from tampering.

>>> key = bytes(range(32))
>>> decrypt("config.json", encrypt("config.json", b"{}", key), key)
b'{}'
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Iterable
from typing import Any

from lamina.saving.errors import UnsafeFileError

NONCE = 12


def _crypto() -> Any:
    try:
        from cryptography.exceptions import InvalidSignature, InvalidTag
        from cryptography.hazmat.primitives.asymmetric import ed25519
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    except ImportError:  # pragma: no cover - depends on the environment
        raise ImportError("Signed or encrypted model files need the `cryptography` package: "
                          "pip install 'lamina[crypto]'.") from None
    return ed25519, AESGCM, InvalidSignature, InvalidTag


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# ---------------------------------------------------------------------------------------------- keys
def _public_bytes(key: Any) -> bytes:
    ed25519, *_ = _crypto()
    if isinstance(key, (bytes, bytearray)) and len(key) == 32:
        return bytes(key)
    if isinstance(key, ed25519.Ed25519PrivateKey):
        key = key.public_key()
    if isinstance(key, ed25519.Ed25519PublicKey):
        from cryptography.hazmat.primitives import serialization

        return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    raise TypeError(f"Expected an Ed25519 public key (cryptography's Ed25519PublicKey or its 32 raw bytes); "
                    f"received {type(key).__name__}.")


def _aes_key(key: Any) -> bytes:
    if not isinstance(key, (bytes, bytearray)) or len(key) != 32:
        size = f" of {len(key)} bytes" if isinstance(key, (bytes, bytearray)) else ""
        raise TypeError("encryption_key must be 32 bytes (an AES-256 key), e.g. os.urandom(32) or "
                        f"AESGCM.generate_key(bit_length=256); received {type(key).__name__}{size}.")
    return bytes(key)


def key_id(key: bytes) -> str:
    """A fingerprint of an AES key (an HMAC, revealing nothing about the key) stored to recognise a wrong key."""
    return hmac.new(_aes_key(key), b"lamina model file key id", hashlib.sha256).hexdigest()[:32]


# ---------------------------------------------------------------------------------------------- signing
def sign(manifest: bytes, signing_key: Any) -> dict:
    """The ``signature.json`` content for ``manifest`` (the bytes of ``metadata.json``)."""
    ed25519, *_ = _crypto()
    if not isinstance(signing_key, ed25519.Ed25519PrivateKey):
        raise TypeError("signing_key must be a cryptography Ed25519PrivateKey, e.g. "
                        f"Ed25519PrivateKey.generate(); received {type(signing_key).__name__}.")
    return {"algorithm": "ed25519", "public_key": _public_bytes(signing_key).hex(),
            "signature": signing_key.sign(manifest).hex()}


def verify(manifest: bytes, signature: Any, trusted_keys: Iterable[Any]) -> None:
    """Check that ``signature`` (parsed ``signature.json``) signs ``manifest`` with one of ``trusted_keys``."""
    ed25519, _, invalid_signature, _ = _crypto()
    trusted = [_public_bytes(k) for k in trusted_keys]
    if not trusted:
        raise ValueError("trusted_keys is empty: pass the public key(s) whose signatures you accept.")
    if not isinstance(signature, dict) or signature.get("algorithm") != "ed25519" or not isinstance(
            signature.get("signature"), str):
        raise UnsafeFileError("The file's signature.json is malformed; refusing it as unsigned.")
    try:
        raw = bytes.fromhex(signature["signature"])
    except ValueError:
        raise UnsafeFileError("The file's signature is not valid hex; refusing the file.") from None
    for public in trusted:
        try:
            ed25519.Ed25519PublicKey.from_public_bytes(public).verify(raw, manifest)
            return
        except invalid_signature:
            continue
    raise UnsafeFileError("The file's signature does not verify with any of the trusted keys: it was signed by "
                          "another key, or its metadata was changed after signing. Refusing to load it.")


# ---------------------------------------------------------------------------------------------- encryption
def encrypt(name: str, data: bytes, key: bytes) -> bytes:
    _, aesgcm, *_ = _crypto()
    nonce = os.urandom(NONCE)
    return nonce + aesgcm(_aes_key(key)).encrypt(nonce, data, name.encode())


def decrypt(name: str, blob: bytes, key: bytes) -> bytes:
    _, aesgcm, _, invalid_tag = _crypto()
    if len(blob) < NONCE + 16:
        raise UnsafeFileError(f"Encrypted member {name!r} is too short to hold a nonce and tag: it was truncated.")
    try:
        return aesgcm(_aes_key(key)).decrypt(blob[:NONCE], blob[NONCE:], name.encode())
    except invalid_tag:
        raise UnsafeFileError(f"Encrypted member {name!r} does not authenticate: it was changed after saving "
                              "(or encrypted with another key). Refusing to load it.") from None


def seal(metadata: bytes, key: bytes) -> bytes:
    """An AES-GCM tag over ``metadata`` (encrypting nothing): proves the metadata was written with ``key``."""
    return encrypt("metadata.seal", hashlib.sha256(metadata).digest(), key)


def check_seal(metadata: bytes, blob: bytes, key: bytes) -> None:
    try:
        digest = decrypt("metadata.seal", blob, key)
    except UnsafeFileError:
        raise UnsafeFileError("metadata.json of this encrypted file does not authenticate under the given key: the "
                              "file was changed after saving. Refusing to load it.") from None
    if not hmac.compare_digest(digest, hashlib.sha256(metadata).digest()):
        raise UnsafeFileError("metadata.json was changed after saving (its seal does not match). Refusing it.")
