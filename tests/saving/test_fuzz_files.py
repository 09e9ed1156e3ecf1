"""Property-based fuzzing of every loader (issue 18): valid ``.lamina``, ``.weights.safetensors``, ``.keras``,
``.weights.h5`` and legacy ``.h5`` files of one model are mutated (byte flips, truncation, JSON structure edits in
every JSON a file carries, zip member edits, with the checksums recomputed as an attacker would or not), and each
mutated file is loaded by its readers (``load_model``, ``lamina inspect``, ``load_weights``, ``KerasFileEditor``)
in a worker process under a memory cap (2 GiB of address space beyond the started process) and a time limit per
file. The property: each load either succeeds with what the loader promises, or raises lamina's documented
``SavingError``: no other exception, no hang, no allocation over the cap, no crash.

The examples are derandomized (the same files on every run), and few enough to keep the test near 30 s.
"""

from __future__ import annotations

import hashlib
import io
import json
import struct
import warnings
import zipfile

import pytest
from file_harness import GiB, base_files, run_loads
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

LOADERS = {"lamina": ("lamina", "inspect"), "weights": ("weights",), "keras": ("keras", "editor"),
           "keras_weights": ("keras_weights", "editor"), "legacy_h5": ("keras",)}  # load_model reads .h5 by suffix
SUFFIXES = {"lamina": ".lamina", "weights": ".weights.safetensors", "keras": ".keras",
            "keras_weights": ".weights.h5", "legacy_h5": ".h5"}


DEEP = "@@deep@@"  # replaced in the JSON text by 5,000 nested arrays (json.dumps itself would recurse too deep)
SPECIAL = {
    "deep": lambda: DEEP,
    "wide": lambda: [0] * 100_000,
    "huge int": lambda: 10 ** 400,
    "huge shape": lambda: [10 ** 9, 10 ** 9],
    "negative": lambda: -1,
    "lambda layer": lambda: {"class_name": "Lambda", "config": {"name": "x", "function": "lambda x: x"}},
    "os.system": lambda: {"module": "os", "class_name": "system", "config": {"command": "true"}},
    "bidi text": lambda: "\u202e\x9b\x1b[31m",
    "long text": lambda: "x" * 100_000,
    "big units": lambda: 20_000_000,
}
HOSTILE = st.one_of(
    st.none(), st.booleans(), st.integers(-(2 ** 70), 2 ** 70), st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12), st.lists(st.integers(-3, 3), max_size=4),
    st.sampled_from(sorted(SPECIAL)).map(lambda name: ("special", name)))  # made when used: small reprs


def _value(hostile):
    if isinstance(hostile, tuple) and len(hostile) == 2 and hostile[0] == "special":
        return SPECIAL[hostile[1]]()
    return hostile

FLIP = st.tuples(st.just("flip"), st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(1, 255)),
                                           min_size=1, max_size=6))
TRUNCATE = st.tuples(st.just("truncate"), st.floats(0, 1, exclude_max=True))
JSON_EDIT = st.tuples(st.just("json"), st.integers(0, 1000), st.integers(0, 10 ** 6),
                      st.sampled_from(["replace", "delete", "wrap", "duplicate"]), HOSTILE, st.booleans())
ZIP_EDIT = st.tuples(st.just("zip"), st.sampled_from(["drop", "extra", "rename", "duplicate", "deflate", "swap"]),
                     st.integers(0, 1000), st.booleans())
MUTATIONS = {"lamina": st.one_of(FLIP, TRUNCATE, JSON_EDIT, JSON_EDIT, ZIP_EDIT),
             "keras": st.one_of(FLIP, TRUNCATE, JSON_EDIT, JSON_EDIT, ZIP_EDIT),
             "weights": st.one_of(FLIP, TRUNCATE, JSON_EDIT, JSON_EDIT), "keras_weights": st.one_of(FLIP, TRUNCATE),
             "legacy_h5": st.one_of(FLIP, TRUNCATE)}
CASES = st.sampled_from(sorted(MUTATIONS)).flatmap(lambda kind: st.tuples(st.just(kind), MUTATIONS[kind]))


# ---------------------------------------------------------------------------------------------- mutations
def _flip(blob, flips):
    out = bytearray(blob)
    for where, xor in flips:
        out[int(where * len(out))] ^= xor
    return bytes(out)


def _nodes(document):
    """Every (container, key) slot of a parsed JSON document, found iteratively."""
    slots, stack = [], [document]
    while stack:
        value = stack.pop()
        items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
        for key, child in items:
            slots.append((value, key))
            stack.append(child)
    return slots


def _edit_json(text, pick, edit, hostile):
    deep = json.dumps(DEEP).encode()
    return _edit_json_text(text, pick, edit, _value(hostile)).replace(deep, b"[" * 5000 + b"]" * 5000)


def _edit_json_text(text, pick, edit, hostile):
    document = json.loads(text)
    slots = _nodes(document)
    if not slots:
        return json.dumps(hostile).encode()
    container, key = slots[pick % len(slots)]
    if edit == "replace":
        container[key] = hostile
    elif edit == "delete":
        del container[key]
    elif edit == "wrap":
        container[key] = [container[key]] if pick % 2 else {"x": container[key]}
    elif isinstance(container, list):
        container.insert(key, container[key])
    else:  # a key given twice: written out by hand, as json.dumps cannot
        raw = json.dumps(document)
        return (raw[:-1] + (", " if len(raw) > 2 else "") + json.dumps(str(key)) + ": " + json.dumps(hostile)
                + "}").encode() if raw.endswith("}") else raw.encode()
    return json.dumps(document).encode()


def _edit_safetensors(blob, pick, edit, hostile):
    (n,) = struct.unpack("<Q", blob[:8])
    header = _edit_json(blob[8: 8 + n], pick, edit, hostile)
    return struct.pack("<Q", len(header)) + header + blob[8 + n:]


def _members(blob):
    with zipfile.ZipFile(io.BytesIO(blob)) as zf:
        return [(info, zf.read(info)) for info in zf.infolist()]


def _zip(members, compress=zipfile.ZIP_STORED):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf, warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "Duplicate name": a member twice is one of the edits
        for name, data in members:
            zf.writestr(zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)), data, compress_type=compress)
    return buffer.getvalue()


def _rehash(members):
    """metadata.json's checksums recomputed for the members as they are now (so the deeper checks see them)."""
    out = dict(members)
    try:
        meta = json.loads(out["metadata.json"])
        meta["members"] = {n: {"sha256": hashlib.sha256(d).hexdigest(), "size": len(d)} for n, d in out.items()
                           if n not in ("metadata.json", "signature.json", "metadata.seal")}
        out["metadata.json"] = json.dumps(meta).encode()
    except (KeyError, ValueError, TypeError, AttributeError):
        pass
    return list(out.items())


def mutate(kind, blob, mutation):
    op = mutation[0]
    if op == "flip":
        return _flip(blob, mutation[1])
    if op == "truncate":
        return blob[: int(mutation[1] * len(blob))]
    if kind == "weights":  # a safetensors file: its header is the JSON
        _, _, pick, edit, hostile, _ = mutation
        return _edit_safetensors(blob, pick, edit, hostile)
    members = [(info.filename, data) for info, data in _members(blob)]
    if op == "json":
        _, which, pick, edit, hostile, rehash = mutation
        index = which % len(members)
        name, data = members[index]
        if name.endswith(".safetensors"):
            data = _edit_safetensors(data, pick, edit, hostile)
        elif name.endswith(".json"):
            data = _edit_json(data, pick, edit, hostile)
        else:
            data = _flip(data, [((pick % 997) / 997, 1 + pick % 255)]) if data else data
        members[index] = (name, data)
        return _zip(_rehash(members) if rehash and kind == "lamina" else members)
    _, edit, pick, rehash = mutation
    index = pick % len(members)
    name, data = members[index]
    if edit == "drop":
        del members[index]
    elif edit == "extra":
        members.append((["notes.txt", "../escape.json", "assets/x.txt", "/abs.json"][pick % 4], b"{}"))
    elif edit == "rename":
        members[index] = (name.upper(), data)
    elif edit == "duplicate":
        members.append((name, data))
    elif edit == "swap":
        other = (index + 1) % len(members)
        members[index], members[other] = (name, members[other][1]), (members[other][0], data)
    compress = zipfile.ZIP_DEFLATED if edit == "deflate" else zipfile.ZIP_STORED
    return _zip(_rehash(members) if rehash and kind == "lamina" else members, compress)


# ---------------------------------------------------------------------------------------------- the property
@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fuzz")
    base = base_files(folder / "base")
    return folder, base, {kind: path.read_bytes() for kind, path in base.items()}


@settings(max_examples=2, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck),
          phases=(Phase.explicit, Phase.generate))  # no shrinking: each example is a batch of files, reported whole
@given(cases=st.lists(CASES, min_size=40, max_size=40))
def test_mutated_files_load_correctly_or_raise_saving_error(corpus, cases):
    folder, base, blobs = corpus
    batch = folder / f"batch-{hashlib.sha256(repr(cases).encode()).hexdigest()[:12]}"
    batch.mkdir(exist_ok=True)
    jobs, described = [], []
    for i, (kind, mutation) in enumerate(cases):
        path = batch / f"{i}{SUFFIXES[kind]}"
        path.write_bytes(mutate(kind, blobs[kind], mutation))
        for loader in LOADERS[kind]:
            jobs.append((loader, path))
            described.append(f"{loader} on {path.name}: {repr(mutation)[:300]}")
    unmutated = [(loader, base[kind]) for kind, loaders in LOADERS.items() for loader in loaders]
    results = run_loads(batch, base, unmutated + jobs, seconds=30, memory_bytes=2 * GiB)
    assert [r["outcome"] for r in results[: len(unmutated)]] == ["ok"] * len(unmutated), results[: len(unmutated)]
    results = results[len(unmutated):]
    bad = [f"{d} -> {r['outcome']}: {r['detail']}" for d, r in zip(described, results, strict=True)
           if r["outcome"] not in ("ok", "refused")]
    assert not bad, "\n".join(bad)
    assert any(r["outcome"] == "refused" for r in results)  # the mutations do reach the checks
