"""Signed and encrypted model files: they load with the right keys; any changed byte of any member, a missing
or wrong signature, and a wrong key are refused with UnsafeFileError/FileFormatError and a clear message."""

from __future__ import annotations

import io
import json
import os
import zipfile

import pytest
import torch

import lamina
from lamina.saving import FileFormatError, SavingError, UnsafeFileError, load_model, save_model

ed25519 = pytest.importorskip("cryptography.hazmat.primitives.asymmetric.ed25519")

X = torch.randn(5, 3)


@pytest.fixture(scope="module")
def model():
    m = lamina.Sequential([lamina.layers.Input(shape=(3,)), lamina.layers.Dense(4), lamina.layers.Dense(2)])
    m.compile(optimizer="sgd", loss="mse")
    m.fit(torch.ones(4, 3), torch.zeros(4, 2), verbose=0)
    return m


def members_of(path):
    with zipfile.ZipFile(path) as zf:
        return {n: zf.read(n) for n in zf.namelist()}


def write(path, members):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    path.write_bytes(buffer.getvalue())


def flipped(members, name, index):
    data = bytearray(members[name])
    data[index % len(data)] ^= 0x01
    return {**members, name: bytes(data)}


def test_signed_file_loads_with_the_trusted_key(model, tmp_path):
    key = ed25519.Ed25519PrivateKey.generate()
    path = tmp_path / "s.lamina"
    save_model(model, path, signing_key=key)
    loaded = load_model(path, trusted_keys=[ed25519.Ed25519PrivateKey.generate().public_key(), key.public_key()])
    torch.testing.assert_close(loaded(X), model(X), rtol=0, atol=0)
    assert "signature.json" in members_of(path)


def test_signed_file_refuses_wrong_key_and_every_changed_member(model, tmp_path):
    key = ed25519.Ed25519PrivateKey.generate()
    path = tmp_path / "s.lamina"
    save_model(model, path, signing_key=key)
    with pytest.raises(UnsafeFileError, match="does not verify with any of the trusted keys"):
        load_model(path, trusted_keys=[ed25519.Ed25519PrivateKey.generate().public_key()])
    members = members_of(path)
    assert set(members) == {"config.json", "model.safetensors", "optimizer.safetensors", "metadata.json",
                            "signature.json"}
    for name in members:
        for index in (0, len(members[name]) // 2, -1):
            bad = tmp_path / f"bad-{name}-{index}.lamina"
            write(bad, flipped(members, name, index))
            with pytest.raises(SavingError) as info:
                load_model(bad, trusted_keys=[key.public_key()])
            assert "signature" in str(info.value) or "SHA-256" in str(info.value) or "JSON" in str(info.value), \
                (name, index, str(info.value))


def test_attacker_recomputing_checksums_is_caught_by_the_signature(model, tmp_path):
    key = ed25519.Ed25519PrivateKey.generate()
    path = tmp_path / "s.lamina"
    save_model(model, path, signing_key=key)
    members = flipped(members_of(path), "model.safetensors", -1)
    meta = json.loads(members["metadata.json"])
    import hashlib

    meta["members"]["model.safetensors"]["sha256"] = hashlib.sha256(members["model.safetensors"]).hexdigest()
    members["metadata.json"] = json.dumps(meta).encode()
    write(tmp_path / "forged.lamina", members)
    assert load_model(tmp_path / "forged.lamina")  # without trusted_keys the checksums alone cannot tell
    with pytest.raises(UnsafeFileError, match="signature"):
        load_model(tmp_path / "forged.lamina", trusted_keys=[key.public_key()])


def test_unsigned_file_is_refused_when_keys_are_required(model, tmp_path):
    model.save(tmp_path / "u.lamina")
    key = ed25519.Ed25519PrivateKey.generate()
    with pytest.raises(UnsafeFileError, match="not signed"):
        load_model(tmp_path / "u.lamina", trusted_keys=[key.public_key()])


def test_encrypted_file_round_trip_and_members_are_unreadable(model, tmp_path):
    key = os.urandom(32)
    path = tmp_path / "e.lamina"
    save_model(model, path, encryption_key=key)
    members = members_of(path)
    assert b"Dense" not in members["config.json"] and b"dense.kernel" not in members["model.safetensors"]
    loaded = load_model(path, encryption_key=key)
    torch.testing.assert_close(loaded(X), model(X), rtol=0, atol=0)
    assert loaded.compiled


def test_a_key_refuses_an_unencrypted_file_unless_allowed(model, tmp_path):
    # the downgrade: a plain file (anyone's) put where the encrypted one was loads with no complaint otherwise
    key = os.urandom(32)
    save_model(model, tmp_path / "e.lamina", encryption_key=key)
    attacker = lamina.Sequential([lamina.layers.Input(shape=(3,)), lamina.layers.Dense(4), lamina.layers.Dense(2)])
    save_model(attacker, tmp_path / "e.lamina")
    with pytest.raises(UnsafeFileError, match="not encrypted, but encryption_key was given.*allow_unencrypted=True"):
        load_model(tmp_path / "e.lamina", encryption_key=key)
    with pytest.raises(UnsafeFileError, match="not encrypted"):
        lamina.models.load_model(tmp_path / "e.lamina", encryption_key=key)  # the public road too
    loaded = load_model(tmp_path / "e.lamina", encryption_key=key, allow_unencrypted=True)  # said explicitly
    torch.testing.assert_close(loaded(X), attacker(X), rtol=0, atol=0)
    save_model(model, tmp_path / "e.lamina", encryption_key=key)
    torch.testing.assert_close(load_model(tmp_path / "e.lamina", encryption_key=key, allow_unencrypted=True)(X),
                               model(X), rtol=0, atol=0)  # an encrypted file still decrypts (and authenticates)
    with pytest.raises(UnsafeFileError, match="Wrong encryption key"):
        load_model(tmp_path / "e.lamina", encryption_key=os.urandom(32), allow_unencrypted=True)


def test_allow_unencrypted_accepts_a_keras_file_with_a_key(model, tmp_path):
    model.save(tmp_path / "m.keras")
    with pytest.raises(ValueError, match="never signed or encrypted"):
        load_model(tmp_path / "m.keras", encryption_key=os.urandom(32))
    loaded = load_model(tmp_path / "m.keras", encryption_key=os.urandom(32), allow_unencrypted=True)
    torch.testing.assert_close(loaded(X), model(X))


def test_encrypted_file_refuses_wrong_or_missing_key_and_every_changed_member(model, tmp_path):
    key = os.urandom(32)
    path = tmp_path / "e.lamina"
    save_model(model, path, encryption_key=key)
    with pytest.raises(UnsafeFileError, match="Wrong encryption key"):
        load_model(path, encryption_key=os.urandom(32))
    with pytest.raises(UnsafeFileError, match="encrypted: pass encryption_key"):
        load_model(path)
    members = members_of(path)
    assert "metadata.seal" in members
    for name in members:
        for index in (0, len(members[name]) // 2, -1):
            bad = tmp_path / f"bad-{name}-{index}.lamina"
            write(bad, flipped(members, name, index))
            with pytest.raises((UnsafeFileError, FileFormatError)):
                load_model(bad, encryption_key=key)


def test_encrypted_member_changed_with_recomputed_checksum_fails_authentication(model, tmp_path):
    key = os.urandom(32)
    path = tmp_path / "e.lamina"
    save_model(model, path, encryption_key=key)
    members = flipped(members_of(path), "config.json", 20)
    from lamina.saving import crypto

    meta = json.loads(members["metadata.json"])
    meta["members"]["config.json"]["sha256"] = crypto.sha256(members["config.json"])
    members["metadata.json"] = json.dumps(meta).encode()
    write(tmp_path / "forged.lamina", members)
    with pytest.raises(UnsafeFileError, match="changed after saving"):
        load_model(tmp_path / "forged.lamina", encryption_key=key)


def test_signed_and_encrypted_together(model, tmp_path):
    key, aes = ed25519.Ed25519PrivateKey.generate(), os.urandom(32)
    path = tmp_path / "se.lamina"
    save_model(model, path, signing_key=key, encryption_key=aes)
    loaded = load_model(path, trusted_keys=[key.public_key()], encryption_key=aes)
    torch.testing.assert_close(loaded(X), model(X), rtol=0, atol=0)


def test_bad_key_types_are_explained(model, tmp_path):
    with pytest.raises(TypeError, match="32 bytes"):
        save_model(model, tmp_path / "x.lamina", encryption_key=b"short")
    with pytest.raises(TypeError, match="Ed25519PrivateKey"):
        save_model(model, tmp_path / "x.lamina", signing_key="secret")
    assert not (tmp_path / "x.lamina").exists()
