"""`lamina inspect`: summary, versions and verified checksums of a .lamina file, run as a separate process."""

import json
import os
import subprocess
import sys
import zipfile

import numpy as np
import pytest

import lamina
from lamina import layers as L

pytest.importorskip("lamina.saving.model_file")


def _run(path, *extra):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    return subprocess.run([sys.executable, "-m", "lamina.saving.inspect", "inspect", str(path), *extra],
                          capture_output=True, text=True, timeout=120, env=env)


def _in_process(path, capsys):
    """The same command in this process (fast); the subprocess tests cover the real entry point."""
    from lamina.saving.inspect import main

    capsys.readouterr()
    code = main(["inspect", str(path)])
    captured = capsys.readouterr()
    return subprocess.CompletedProcess([], code, captured.out, captured.err)


@pytest.fixture
def saved(tmp_path):
    inp = lamina.Input((8, 8, 3), name="img")
    x = L.Conv2D(4, 3, name="features")(inp)
    x = L.BatchNormalization(name="norm")(L.Flatten()(x))
    model = lamina.Model(inp, L.Dense(2, name="head")(x), name="tiny")
    model.compile(optimizer="adam", loss="mse")
    model.fit(np.zeros((4, 8, 8, 3), "float32"), np.zeros((4, 2), "float32"), epochs=1, verbose=0)
    path = tmp_path / "tiny.lamina"
    model.save(str(path))
    return model, path


def test_reports_summary_versions_and_checksums(saved):
    model, path = saved
    result = _run(path)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert 'Model: "tiny" (Functional)' in out
    assert f"torch {__import__('torch').__version__}" in out and f"lamina {lamina.__version__}" in out
    counts = {name: sum(int(np.prod(w.shape)) for w in model.get_layer(name).weights)
              for name in ("features", "norm", "head")}
    for name, cls in (("features", "Conv2D"), ("norm", "BatchNormalization"), ("head", "Dense")):
        line = next(line for line in out.splitlines() if line.strip().startswith(name))
        assert cls in line and line.rstrip().endswith(f"{counts[name]:,}")
    assert "(None, 8, 8, 3)" in out
    assert f"Total params: {sum(int(np.prod(w.shape)) for w in model.weights):,}" in out
    for member in ("config.json", "model.safetensors", "optimizer.safetensors"):
        line = next(line for line in out.splitlines() if line.strip().startswith(member))
        assert line.rstrip().endswith("OK")
    assert "Checksums: all OK" in out


def _rewrite(src, dst, change):
    with zipfile.ZipFile(src) as z:
        members = {n: z.read(n) for n in z.namelist()}
    change(members)
    with zipfile.ZipFile(dst, "w") as z:
        for name, blob in members.items():
            z.writestr(name, blob)
    return dst


def test_tampered_member_is_a_mismatch(saved, tmp_path):
    _, path = saved

    def flip(members):
        blob = bytearray(members["model.safetensors"])
        blob[-1] ^= 0xFF
        members["model.safetensors"] = bytes(blob)

    result = _run(_rewrite(path, tmp_path / "tampered.lamina", flip))
    assert result.returncode == 1
    line = next(line for line in result.stdout.splitlines() if line.strip().startswith("model.safetensors"))
    assert line.rstrip().endswith("MISMATCH")
    config_line = next(line for line in result.stdout.splitlines() if line.strip().startswith("config.json"))
    assert config_line.rstrip().endswith("OK")


def test_hostile_files_are_reported_cleanly(saved, tmp_path, capsys):
    _, path = saved
    sentinel = tmp_path / "sentinel"

    def evil_config(members):
        config = json.loads(members["config.json"])
        config["config"]["layers"][1].update(module="os", class_name="system")
        config["config"]["layers"][1]["config"]["command"] = f"touch {sentinel}"
        members["config.json"] = json.dumps(config).encode()

    result = _in_process(_rewrite(path, tmp_path / "evil.lamina", evil_config), capsys)
    assert result.returncode == 1 and "MISMATCH" in result.stdout  # read as data only, and flagged
    assert "system" in result.stdout and not sentinel.exists()

    escape = _rewrite(path, tmp_path / "escape.lamina", lambda m: m.update({"../x": b"1"}))
    result = _run(escape)
    assert result.returncode == 1 and "unsafe file" in result.stderr and "Traceback" not in result.stderr

    truncated = tmp_path / "truncated.lamina"
    truncated.write_bytes(path.read_bytes()[:200])
    result = _in_process(truncated, capsys)
    assert result.returncode == 1 and "malformed file" in result.stderr and "Traceback" not in result.stderr

    deep = _rewrite(path, tmp_path / "deep.lamina", lambda m: m.update({"config.json": b"[" * 5000 + b"]" * 5000}))
    result = _in_process(deep, capsys)
    assert result.returncode == 1 and "Traceback" not in result.stderr

    result = _in_process(tmp_path / "missing.lamina", capsys)
    assert result.returncode == 1 and "no such file" in result.stderr


def test_control_characters_from_the_file_are_not_printed(saved, tmp_path, capsys):
    _, path = saved

    def escape_name(members):
        config = json.loads(members["config.json"])
        config["config"]["name"] = "\x1b]0;pwned\x07name"
        members["config.json"] = json.dumps(config).encode()

    result = _in_process(_rewrite(path, tmp_path / "esc.lamina", escape_name), capsys)
    assert "\x1b" not in result.stdout and "?]0;pwned?name" in result.stdout


# ---------------------------------------------------------------------------------------------- issue 18, finding 6
def _rehashed(src, dst, change):
    """``_rewrite`` with metadata.json's checksums recomputed, as an attacker would: the deeper checks must see it."""
    import hashlib

    def both(members):
        change(members)
        meta = json.loads(members["metadata.json"])
        meta["members"] = {n: {"sha256": hashlib.sha256(d).hexdigest(), "size": len(d)} for n, d in members.items()
                           if n not in ("metadata.json", "signature.json", "metadata.seal")}
        members["metadata.json"] = json.dumps(meta).encode()

    return _rewrite(src, dst, both)


def _safetensors(header, data=b""):
    import struct

    raw = json.dumps(header).encode()
    return struct.pack("<Q", len(raw)) + raw + data


@pytest.mark.parametrize(("case", "header", "data"), [
    ("overlapping offsets", {"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]},
                             "b": {"dtype": "F32", "shape": [4], "data_offsets": [8, 24]}}, b"\0" * 24),
    ("data out of range", {"a": {"dtype": "F32", "shape": [1 << 30], "data_offsets": [0, 4 << 30]}}, b"\0" * 16),
    ("huge dimensions", {"a": {"dtype": "F32", "shape": [10 ** 9, 10 ** 9], "data_offsets": [0, 16]}}, b"\0" * 16),
    ("unknown dtype", {"a": {"dtype": "X9", "shape": [4], "data_offsets": [0, 16]}}, b"\0" * 16),
])
def test_headers_the_loader_refuses_are_not_reported_as_all_ok(saved, tmp_path, capsys, case, header, data):
    """These used to print "Checksums: all OK" (the checksums match: the attacker recomputed them)."""
    _, path = saved
    weights = _safetensors(header, data)
    bad = _rehashed(path, tmp_path / "bad.lamina", lambda m: m.update({"model.safetensors": weights}))
    with pytest.raises(lamina.saving.UnsafeFileError):
        lamina.saving.load_model(bad)
    result = _in_process(bad, capsys)
    assert result.returncode == 1 and "all OK" not in result.stdout and "unsafe file" in result.stderr


def test_a_signature_is_verified_only_with_keys_and_never_claimed_without(saved, tmp_path, capsys):
    ed25519 = pytest.importorskip("cryptography.hazmat.primitives.asymmetric.ed25519")
    model, _ = saved
    key, other = ed25519.Ed25519PrivateKey.generate(), ed25519.Ed25519PrivateKey.generate()
    model.save(tmp_path / "signed.lamina", signing_key=key)
    lamina.Sequential([lamina.layers.Input((2,)), L.Dense(1)]).save(tmp_path / "other.lamina", signing_key=key)
    public = key.public_key().public_bytes_raw().hex()
    wrong = other.public_key().public_bytes_raw().hex()
    from lamina.saving.inspect import main

    def run(path, *keys):
        capsys.readouterr()
        code = main(["inspect", str(path), *[a for k in keys for a in ("--trusted-key", k)]])
        return code, capsys.readouterr()

    code, out = run(tmp_path / "signed.lamina")
    assert code == 0 and "Signed: signed, not verified" in out.out
    code, out = run(tmp_path / "signed.lamina", public)
    assert code == 0 and "Signed: yes, verified with a trusted key" in out.out and "all OK" in out.out
    code, out = run(tmp_path / "signed.lamina", wrong)
    assert code == 1 and "Signed: INVALID" in out.out and "all OK" not in out.out
    with pytest.raises(lamina.saving.UnsafeFileError):
        lamina.saving.load_model(tmp_path / "signed.lamina", trusted_keys=[bytes.fromhex(wrong)])

    # another file's (valid) signature next to this file's metadata: used to print "Signed: yes"
    foreign = _rewrite(tmp_path / "signed.lamina", tmp_path / "foreign.lamina", lambda m: m.update(
        {"signature.json": zipfile.ZipFile(tmp_path / "other.lamina").read("signature.json")}))
    code, out = run(foreign)
    assert "Signed: signed, not verified" in out.out and "Signed: yes" not in out.out
    code, out = run(foreign, public)
    assert code == 1 and "Signed: INVALID" in out.out

    code, out = run(saved[1], public)  # an unsigned file when keys are given: load_model refuses it
    assert code == 1 and "Signed: NO" in out.out
    with pytest.raises(SystemExit) as info:  # argparse's usage error
        run(tmp_path / "signed.lamina", "abc")
    assert info.value.code == 2 and "64 hex digits" in capsys.readouterr().err


@pytest.mark.parametrize("char", ["\x9b", "\u202e", "\u2066", "\u200b", "\u2028", "\x1b", "\x7f", "\ufeff"])
def test_every_control_and_bidirectional_character_is_replaced(saved, tmp_path, capsys, char):
    _, path = saved

    def rename(members):
        config = json.loads(members["config.json"])
        config["config"]["name"] = f"model{char}name"
        config["config"]["layers"][1]["class_name"] = f"Dense{char}"
        members["config.json"] = json.dumps(config).encode()

    result = _in_process(_rehashed(path, tmp_path / "names.lamina", rename), capsys)
    assert char not in result.stdout and "model?name" in result.stdout and "Dense?" in result.stdout


def test_safe_text_replaces_exactly_the_unsafe_unicode_categories():
    import unicodedata

    from lamina.saving.inspect import safe_text

    unsafe = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}
    sample = "".join(chr(c) for c in range(0, 0x3000)) + "\U0001f600\U000e0001"
    cleaned = safe_text(sample, width=len(sample))
    assert len(cleaned) == len(sample)
    for original, shown in zip(sample, cleaned, strict=True):
        assert shown == ("?" if unicodedata.category(original) in unsafe else original)


def test_inspect_is_linear_in_layers_and_tensors(saved, tmp_path, capsys):
    """5,000 layers and 100,000 tensors: summing every tensor for every layer took minutes (20,000 layers and
    190,000 tensors: 13 minutes); one pass over the names takes well under a second of the budget here."""
    import time

    _, path = saved
    config = {"class_name": "Sequential", "config": {"name": "big", "layers": [
        {"class_name": "Dense", "config": {"name": f"l{i}"}} for i in range(5000)]}}
    header = {f"l{i % 5000}.w{i}": {"dtype": "F32", "shape": [0], "data_offsets": [0, 0]} for i in range(100_000)}
    big = _rehashed(path, tmp_path / "big.lamina", lambda m: (
        m.update({"config.json": json.dumps(config).encode(), "model.safetensors": _safetensors(header)}),
        m.pop("optimizer.safetensors")))
    start = time.process_time()
    result = _in_process(big, capsys)
    assert time.process_time() - start < 20  # CPU seconds, so that a busy machine does not make it flaky
    assert result.returncode == 0 and result.stdout.count(" Dense ") == 5000


def test_a_damaged_deflate_stream_is_a_malformed_file(saved, tmp_path, capsys):
    """zlib.error from a corrupted deflated member used to escape inspect (found by tests/saving/test_fuzz_files)."""
    import io
    import zlib

    _, path = saved
    blob = path.read_bytes()
    with zipfile.ZipFile(io.BytesIO(blob)) as zf:
        info = zf.getinfo("config.json")
    assert info.compress_type == zipfile.ZIP_DEFLATED
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    for position in range(start, start + info.compress_size):  # the first flip that zlib itself rejects
        damaged = bytearray(blob)
        damaged[position] ^= 0x55
        try:
            with zipfile.ZipFile(io.BytesIO(bytes(damaged))) as zf:
                zf.read("config.json")
        except zlib.error:
            break
        except Exception:  # noqa: BLE001, S112  (a CRC error: not the case sought)
            continue
    else:
        pytest.skip("no single flip made zlib fail")
    bad = tmp_path / "deflate.lamina"
    bad.write_bytes(bytes(damaged))
    result = _in_process(bad, capsys)
    assert result.returncode == 1 and "malformed file" in result.stderr
