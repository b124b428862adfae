"""Issue 14.5: per-atom figures of a large structure aggregate by element (sums and means that add up to the
per-atom numbers), small structures keep one bar per atom."""

from __future__ import annotations

import numpy as np
import pytest

from lsip.gallery import gallery_structure
from lsip.units import HARTREE_TO_EV
from lsip.viz import figures


@pytest.fixture(scope="module")
def cluster(default_model):
    return default_model.predict(gallery_structure("water_64"))  # 192 atoms


def test_small_structures_keep_one_bar_per_atom(default_model):
    pred = default_model.predict(gallery_structure("water"))
    fig = figures.per_atom_terms(pred)
    assert list(fig.data[0].x) == ["O0", "H1", "H2"]
    assert figures.channel_matrix(pred).data[0].z.shape == (3, 3)


def test_large_structures_aggregate_by_element(cluster):
    pred = cluster
    assert pred.n_atoms > figures.MAX_ATOMS_PER_ATOM_FIGURES
    terms = figures.per_atom_terms(pred)
    assert list(terms.data[0].x) == ["O (64)", "H (128)"]
    # the element sums add up to each term's total
    for trace in terms.data:
        name = next(k for k, lab in figures.term_labels().items() if lab == trace.name)
        assert sum(trace.y) == pytest.approx(pred.term_totals[name] * HARTREE_TO_EV, abs=1e-9)
    heat = figures.channel_matrix(pred)
    z = np.asarray(heat.data[0].z)
    assert z.shape == (2, 2) and z.sum() == pytest.approx(float(pred.occupation.sum()), rel=1e-12)
    q = pred.charges.numpy()
    bars = figures.charges_bar(pred.symbols, {"model": q})
    assert list(bars.data[0].y) == pytest.approx([q[0::3].mean(), np.concatenate([q[1::3], q[2::3]]).mean()])
    assert "mean per element" in bars.layout.title.text
    w = figures.weights_bar(pred)
    assert len(w.data[0].x) == 2
