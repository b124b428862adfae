"""3D view of a DFT-derived charge flow (no Streamlit); the flow itself comes from :mod:`lsip.reference.transfer`."""

from __future__ import annotations

import numpy as np

from lsip.reference.flows import ChargeFlow
from lsip.structure import Structure, atom_label
from lsip.viz.molview import MoleculeView, molecule_view

#: Colour of the DFT flow arrows (the model's channels are green).
DFT_ARROW_COLOR = "#d9822b"


def flow_view(structure: Structure, flow: ChargeFlow, *, threshold: float = 0.01, title: str = "DFT charge q",
              height: int = 420, font_size: int = 12, camera_key: str | None = None) -> MoleculeView:
    """Atoms coloured by the DFT charges with the flow drawn as orange arrows donor -> acceptor."""
    texts = [f"{s}{k}  q = {q:+.3f} e (DFT)\\nflow outflow {o:+.3f} e"
             for k, (s, q, o) in enumerate(zip(structure.symbols, flow.charges, flow.net_outflow()))]
    mv = molecule_view(structure, values=flow.charges, value_title=title, unit="e", height=height,
                       font_size=font_size, camera_key=camera_key, hover_texts=texts)
    pos = structure.positions
    for d, a, c in zip(flow.donor, flow.acceptor, flow.occupation):
        if c < threshold:
            continue
        v = pos[a] - pos[d]
        dist = float(np.linalg.norm(v))
        if dist < 1e-6:
            continue
        start, end = pos[d] + 0.3 * v / dist, pos[a] - 0.3 * v / dist
        mv.view.addArrow({"start": dict(zip("xyz", map(float, start))), "end": dict(zip("xyz", map(float, end))),
                          "radius": float(0.03 + 0.25 * np.sqrt(c)), "radiusRatio": 2.2, "mid": 0.75,
                          "color": DFT_ARROW_COLOR, "hoverable": True,
                          "hover_label": f"{atom_label(structure.symbols, d)} -> "
                                         f"{atom_label(structure.symbols, a)}: {c:.4f} (DFT)"})
    return mv
