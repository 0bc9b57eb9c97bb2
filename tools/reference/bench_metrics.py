"""Time the reference implementations of every metric on one image pair (called by
`cargo bench -p lrpo-shared --bench metrics`, which times the Rust side in the same run).

    python tools/reference/bench_metrics.py HQ.png LQ.png REPEATS

Prints one JSON object: metric -> median seconds per call (after one warm-up call), measured
with time.perf_counter around exactly the call metrics_fixture.py makes. Each library runs
single-threaded (OMP/MKL/OpenBLAS threads pinned to 1) to compare with the Rust code, which is
single-threaded.
"""
import os

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = "1"

import json  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

sys.argv, args = sys.argv[:1], sys.argv[1:]
here = os.path.dirname(os.path.abspath(__file__))
source = open(os.path.join(here, "metrics_fixture.py")).read().split("def main():")[0]
exec(compile(source, "metrics_fixture.py", "exec"))  # the shims and helpers, not main()


def median_time(fn, repeats):
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


hq_path, lq_path, repeats = args[0], args[1], int(args[2])
hq, lq = as_unit(load(hq_path)), as_unit(load(lq_path))
brisque = BRISQUE(url=False)
calls = {
    "psnr": lambda: peak_signal_noise_ratio(hq, lq, data_range=1),
    "ssim": lambda: structural_similarity(hq, lq, channel_axis=2, gaussian_weights=True, sigma=1.5,
                                          use_sample_covariance=False, data_range=1),
    "dtcwt": lambda: np.mean(np.abs(np.stack([lowpass(lq[..., c]) for c in range(3)])
                                    - np.stack([lowpass(hq[..., c]) for c in range(3)]))),
    "niqe": lambda: skvideo.measure.niqe(niqe_gray(lq)),
    "brisque": lambda: brisque.score(lq),
}
print(json.dumps({k: median_time(f, repeats) for k, f in calls.items()}))
