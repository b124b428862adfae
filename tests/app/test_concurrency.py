"""One model, many threads: what the app does when several sessions start at once.

See docs/model.md, "Shared state and threads".

The app shares one :class:`LSIPModel` per parameter set between sessions. Before the pair tables were built
under a lock, two threads on a cold model handed out slots past the end of the published table and every
energy came out wrong, marked converged, and stayed wrong (issue 10; LiF -7.118 instead of -8.358 eV).
"""

from __future__ import annotations

import threading

import numpy as np
import pytest

from lsip.gallery import gallery_structure
from lsip.model.library import load_library
from lsip.model.model import LSIPModel
from lsip.scan.path import predict_along, scan_structures

MOLECULES = ("water", "lif", "ammonium", "nacl", "formaldehyde", "lih")


@pytest.fixture(scope="module")
def serial():
    model = LSIPModel(load_library(), device="cpu")
    return {k: model.predict(gallery_structure(k), raise_on_failure=False) for k in MOLECULES}


def _race(model: LSIPModel, keys: list[str], rounds: int = 1) -> dict[str, list]:
    out: dict[str, list] = {k: [] for k in keys}
    barrier = threading.Barrier(len(keys))
    errors: list[BaseException] = []

    def work(key: str) -> None:
        try:
            barrier.wait(timeout=60)
            for _ in range(rounds):
                out[key].append(model.predict(gallery_structure(key), raise_on_failure=False))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(k,)) for k in keys]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=600)
    assert not errors, errors
    assert not any(t.is_alive() for t in threads), "a prediction thread hung"
    return out


@pytest.mark.parametrize("trial", range(3))
def test_threads_on_a_cold_model_equal_serial_results(serial, trial):
    model = LSIPModel(load_library(), device="cpu")  # a fresh library too: its penetration-table cache is cold
    out = _race(model, list(MOLECULES))
    for key, preds in out.items():
        ref = serial[key]
        for p in preds:
            assert p.energy == pytest.approx(ref.energy, abs=1e-12), key
            np.testing.assert_allclose(p.charges.numpy(), ref.charges.numpy(), atol=1e-12, err_msg=key)
            np.testing.assert_allclose(p.forces.numpy(), ref.forces.numpy(), atol=1e-10, err_msg=key)
    # and the raced model stays right afterwards
    for key in MOLECULES:
        assert model.predict(gallery_structure(key), raise_on_failure=False).energy == pytest.approx(
            serial[key].energy, abs=1e-12)


def test_concurrent_scans_keep_their_own_warm_starts(serial):
    """Scans carry their latent in the prediction: two scans on one model do not see each other's guess."""
    model = LSIPModel(load_library(), device="cpu")
    specs = {"lif": np.linspace(1.4, 3.0, 6), "nacl": np.linspace(2.2, 4.0, 6)}
    frames = {k: scan_structures(gallery_structure(k), 0, 1, d)[0] for k, d in specs.items()}
    alone = {k: [p.energy for p in predict_along(model, fr)] for k, fr in frames.items()}
    got: dict[str, list[float]] = {}

    def work(key: str) -> None:
        got[key] = [p.energy for p in predict_along(model, frames[key])]

    threads = [threading.Thread(target=work, args=(k,)) for k in frames]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=600)
    for key in frames:
        np.testing.assert_allclose(got[key], alone[key], atol=1e-10, err_msg=key)


def test_model_holds_no_per_call_state(serial):
    model = LSIPModel(load_library(), device="cpu")
    model.predict(gallery_structure("water"))
    before = set(vars(model))
    pred = model.predict(gallery_structure("lif"))
    assert set(vars(model)) == before
    assert pred.latent is not None and len(pred.latent.excited) == 2
    assert set(pred.timings) >= {"encode_s", "total_s"}
