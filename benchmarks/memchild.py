"""Child process for memory: build the data, fit one epoch, print resident memory as JSON.

Run by :func:`benchmarks.common.measure_memory` as
``python -m benchmarks.memchild '{"library": ..., "spec": {...}, "rows": ...}'``.
``rss_before_mb`` is the resident set with the data loaded and the model built;
``peak_rss_mb`` the peak resident set (``VmHWM``, reset just before the fit through
``/proc/self/clear_refs``, so it is the peak *during* the fit; ``ru_maxrss`` would not
do: Linux carries it over from the parent across ``exec``); ``fit_rss_mb`` their
difference: what the fit itself added (a copy of ``X`` would show up as ``x_mb``).
"""

from __future__ import annotations

import json
import sys
import warnings


def _status_mb(field: str) -> float:
    """``VmRSS`` (resident now) or ``VmHWM`` (peak) of this process, in MiB."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024  # kB
    raise OSError(f"{field} not in /proc/self/status")


def _reset_peak() -> bool:
    """Reset ``VmHWM`` to the current RSS (Linux >= 4.0); False when not allowed."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        return False
    return True


def main(argv: list[str]) -> int:
    job = json.loads(argv[0])
    spec, library, dtype = job["spec"], job["library"], job.get("dtype", "float32")

    from benchmarks import contenders
    from benchmarks.common import make_classification

    X, y = make_classification(job["rows"], spec["n_features"], spec["n_classes"], seed=0)
    if dtype != "float32":
        X = X.astype(dtype)
    model = contenders.make(library, spec, dtype, job.get("threads"))
    reset = _reset_peak()
    rss_before = _status_mb("VmRSS")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.epoch(X, y)
    peak = _status_mb("VmHWM")
    print(
        json.dumps(
            {
                "x_mb": X.nbytes / 2**20,
                "rss_before_mb": rss_before,
                "peak_rss_mb": peak,
                "fit_rss_mb": max(0.0, peak - rss_before),
                "peak_reset": reset,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
