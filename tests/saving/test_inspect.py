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
