"""Runs lamina's loaders on untrusted files in a separate process under a memory cap and a per-file time limit, for
``test_fuzz_files.py`` and the special-file tests of ``test_format.py``.

    python load_worker.py JOBS.json RESULTS.jsonl

``JOBS.json``: ``{"memory_bytes": extra bytes of address space allowed beyond what the started process uses,
"seconds": the time limit of one load, "lamina": a valid .lamina file (the architecture for ``weights`` jobs),
"keras": a valid .keras file (for ``keras_weights`` jobs), "jobs": [{"loader": ..., "path": ...}]}``, with loaders
``lamina`` (load_model), ``inspect`` (lamina inspect), ``weights`` (load_weights of a .weights.safetensors file),
``keras`` (load_model of a .keras or legacy .h5 file), ``keras_weights`` (load_weights of a .weights.h5 file)
and ``editor`` (``KerasFileEditor`` of a .keras or .weights.h5 file).

Each result line is written (and flushed) as soon as its load ends: ``{"index", "loader", "outcome", "detail"}``
with outcome ``ok`` (loaded, and the result is what the loader promises), ``refused`` (lamina's documented
``SavingError``), ``error`` (any other exception: a defect), or ``timeout``. A load that kills the process leaves
no line, which the caller reports.
"""

from __future__ import annotations

import io
import json
import resource
import signal
import sys


class _Timeout(BaseException):  # not an Exception: a loader's `except Exception` cannot swallow it
    pass


def _alarm(signum, frame):
    raise _Timeout


def _address_space() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return 0


def main(jobs_path: str, results_path: str) -> None:
    with open(jobs_path) as f:
        spec = json.load(f)
    import lamina
    from lamina.saving import SavingError, load_model
    from lamina.saving.inspect import inspect_file

    lamina_model = load_model(spec["lamina"], compile=False)
    keras_model = load_model(spec["keras"])
    resource.setrlimit(resource.RLIMIT_AS, (_address_space() + int(spec["memory_bytes"]),
                                            resource.getrlimit(resource.RLIMIT_AS)[1]))
    signal.signal(signal.SIGALRM, _alarm)

    def run(loader: str, path: str) -> str:
        if loader == "lamina":
            model = load_model(path)
            assert isinstance(model, lamina.Model) and model.built, "load_model returned no built model"
        elif loader == "inspect":
            assert inspect_file(path, out=io.StringIO()) in (True, False)
        elif loader == "keras":
            model = load_model(path)
            assert isinstance(model, lamina.Model) and model.built, "load_model returned no built model"
        elif loader == "editor":
            editor = lamina.saving.KerasFileEditor(path)
            assert isinstance(editor.weights_dict, dict), "KerasFileEditor read no weights"
        elif loader in ("weights", "keras_weights"):
            model = lamina_model if loader == "weights" else keras_model
            shapes = [tuple(w.shape) for w in model.weights]
            model.load_weights(path)
            assert [tuple(w.shape) for w in model.weights] == shapes, "load_weights changed the weights' shapes"
        else:
            raise ValueError(loader)
        return "ok"

    with open(results_path, "w") as out:
        for index, job in enumerate(spec["jobs"]):
            signal.setitimer(signal.ITIMER_REAL, float(spec["seconds"]))
            try:
                outcome, detail = run(job["loader"], job["path"]), ""
            except _Timeout:
                outcome, detail = "timeout", f"over {spec['seconds']} s"
            except SavingError as error:
                outcome, detail = "refused", f"{type(error).__name__}: {str(error)[:300]}"
            except BaseException as error:  # noqa: BLE001  (anything else is what the fuzz test looks for)
                outcome, detail = "error", f"{type(error).__name__}: {str(error)[:300]}"
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
            out.write(json.dumps({"index": index, "loader": job["loader"], "outcome": outcome,
                                  "detail": detail}) + "\n")
            out.flush()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
