"""Named parameter sets of the LSIP model.

The defaults are the *first-principles* set (docs/model.md): kappa = 1, embedding scale 1, no repulsion, no
electronic temperature. Every numerical choice the spec leaves open (cut-offs, Coulomb summation) is a named
field here so it can change without touching the physics. Units: atomic (bohr, hartree) unless a name says.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from lsip.errors import LSIPError
from lsip.paths import PARAMS_DIR


@dataclass(frozen=True)
class ModelParameters:
    """Parameters of the decoder and the physical encoder.

    Attributes
    ----------
    name : label shown in the app and the CLI.
    kappa : dimensionless Wolfsberg-Helmholz constant of beta_AB = kappa S_AB (I_A + I_B) / 2.
    embedding_scale : global factor on F_k(rho_bar).
    embedding_scale_by_element : per-element factors (multiply the global one).
    channel_overlap_min : a channel A<->B exists while S_AB(R) > this, or (see ``channel_ionic_range``) while
        its ionic configuration can still lie below the neutral one; the coupling is switched off smoothly over
        the last ``channel_switch_width`` bohr before that distance (docs/model.md, "Channel range").
    channel_ionic_range : a channel also exists while R < this x R_x, R_x = 1 / (I_D - A_A) the distance where
        the ionic configuration D+ A- of a point-charge pair crosses the neutral one (either direction).
    channel_cutoff_max : hard cap of the channel distance, bohr.
    channel_switch_width : width of the cosine switch of beta, bohr.
    short_range_cutoff : cut-off of the penetration electrostatics and the host density, bohr.
    short_range_switch_width : width of their cosine switch, bohr.
    coulomb : "auto" (exact for n <= dense_max_atoms and finite systems, DSF otherwise), "dense" or "dsf".
    dense_max_atoms : largest finite structure whose point-charge Coulomb is summed over all pairs.
    dsf_alpha, dsf_cutoff : DSF damping (bohr^-1) and cut-off (bohr).
    born_mayer : optional per-element (A, b) of a pair repulsion A_AB exp(-b_AB R), combined as
        A_AB = sqrt(A_A A_B), b_AB = (b_A + b_B) / 2; empty = no repulsion (default).
    electronic_temperature : T_e (hartree) of the optional entropy term -T_e S(w); 0 = off.
    tol : convergence threshold on the KKT residual (hartree per unit occupation).
    max_iter : iteration limit of the equalization solver.
    time_limit_s : wall-clock bound of one equalization solve, s; past it the prediction is returned as not
        converged ("time limit reached"; docs/limits.md).
    embedding_pairing : gamma of the pairing relief: the embedding of state k is scaled by 1 - gamma f_k, f_k the
        fraction of its valence electrons that can pair (0: off); docs/model.md section 10.
    pairing_strength, pairing_decay : eps_p (dimensionless) and lambda of the covalent pairing term (0: off);
        docs/model.md section 10.
    pauli_strength, pauli_decay : eps_r and lambda_r of the Pauli overlap repulsion (0: off).
    pauli_two_sided : the repulsion needs closed-shell density on both atoms (docs/model.md section 10.3; measured
        to fit better and transfer worse, off in the shipped set).
    pauli_bond_relief : u in [0, 1], the share of the Pauli repulsion of a bonding-capable atom's lone pairs
        against a partner it is sigma-bonded to that the bond's orthogonal hybrid removes (0: off); docs/model.md
        section 10.9.
    overlap_repulsion : K (hartree bohr^3) of the closed-shell density-overlap repulsion
        K sum_{A<B} sum_kl w_A^k w_B^l (c_k + c_l) / 2 int rho_k rho_l (0: off); docs/model.md section 10.6.
    overlap_repulsion_product : the share is c_k c_l instead of (c_k + c_l) / 2: only two closed shells repel
        (an open-shell partner pairs instead; docs/model.md section 10.6).
    overlap_repulsion_gordon_kim : the closed-shell repulsion's pair integral is the Gordon-Kim electron-gas energy
        of the two state densities (non-additive Thomas-Fermi kinetic plus Dirac exchange, hartree; K then
        dimensionless, 1 the electron-gas value) instead of their density overlap (docs/model.md section 10.6).
    core_repulsion : K_c (hartree bohr^3) of the frozen-core walls K_c sum_{A != B} sum_l w_B^l int rho^core_A
        rho_{B,l}: every electron of B (all states, its core too) pays for overlapping A's core (0: off; needs a
        library with core densities); docs/model.md section 10.10.
    lone_pair_dipole : kappa_lp >= 0, the scale of the lone-pair (hybridization) dipoles
        p_A = kappa_lp o_A 2 mu_sp,A sqrt(s_A (1 - s_A)) sum_B x_AB u_AB of atoms with lone pairs (1: the
        first-principles hybrid value; 0: off); docs/model.md section 11.1.
    electronegativity_slope : per-element d_A (hartree bohr^3) of the environment electronegativity
        d_A rho_bar_A q_A (empty: off).
    electronegativity_saturation : rho_s (bohr^-3): the host density enters as rho_s tanh(rho0 / rho_s), so the
        shift saturates where a neighbour's core density would make it unbounded (0: linear, the first-round
        form); docs/model.md section 10.4.
    electronegativity_pair_saturation : f >= 0: each neighbour B's share of the host density saturates on its
        own, sigma_AB tanh(rho_B(R_AB) / sigma_AB) with sigma_AB = f rho_B(r_A + r_B) (r the covalent radii), so
        compressing one bond cannot pull beyond the bonded environment (0: off, the whole-sum form of
        ``electronegativity_saturation``); docs/model.md section 10.4.
    charge_transfer_saturation : s in [0, 1]: the charge-transfer couplings beta_AB are scaled by
        1 - s + s tanh(b_AB) / tanh(1), b_AB the valence-limited bond order of the pair (0: off; docs/model.md
        section 10.7).
    hybrid_repulsion : kappa_h (dimensionless) of the hybrid-orthogonality repulsion: two sigma bonds of one atom
        whose hybrids overlap by g pay kappa_h I_A x_AB x_AC g^2 (0: off); docs/model.md section 10.8.
    lone_pair_s_period2, lone_pair_s_period3 : Bent's-rule weight t of a lone pair's claim on the atom's s orbital
        (1: equivalent sp3 hybrids), for period-2 and heavier atoms; the s share of a sigma hybrid is
        1 / (n_sigma + t n_lp) (docs/model.md section 10.8).
    polarizability_scale : factor on the library's two-state polarizabilities of the atomic dipoles (0: no atomic
        dipoles); docs/model.md section 11.
    polarization_exclusion : e in [0, 1], the share of a bond partner's field that an induced atomic dipole does
        not see: pair A-B sees (1 - e x_AB) p_A, x_AB the sigma bond order (0: every field acts, the first-principles
        model); docs/model.md section 11.2.
    external_field : a uniform applied electric field, hartree / (e bohr) (zero: none); used to measure
        polarizabilities (docs/model.md section 11).
    fitted_to : provenance of a calibrated set (data, split, losses, git hash); empty for first-principles.
    precondition : scale the solver's steps by a diagonal curvature estimate (fewer iterations; off only to
        study the solver).
    """

    name: str = "first-principles"
    kappa: float = 1.0
    embedding_scale: float = 1.0
    embedding_scale_by_element: dict[str, float] = field(default_factory=dict)
    channel_overlap_min: float = 1e-2
    channel_ionic_range: float = 1.5
    channel_cutoff_max: float = 60.0
    channel_switch_width: float = 2.0
    short_range_cutoff: float = 12.0
    short_range_switch_width: float = 2.0
    coulomb: str = "auto"
    dense_max_atoms: int = 3000
    dsf_alpha: float = 0.1
    dsf_cutoff: float = 22.0
    born_mayer: dict[str, tuple[float, float]] = field(default_factory=dict)
    electronic_temperature: float = 0.0
    tol: float = 1e-7
    max_iter: int = 2000
    time_limit_s: float = 300.0
    precondition: bool = True
    embedding_pairing: float = 0.0
    pairing_strength: float = 0.0
    pairing_decay: float = 1.0
    pauli_strength: float = 0.0
    pauli_decay: float = 1.0
    pauli_two_sided: bool = False
    pauli_bond_relief: float = 0.0
    overlap_repulsion: float = 0.0
    overlap_repulsion_product: bool = False
    overlap_repulsion_gordon_kim: bool = False
    core_repulsion: float = 0.0
    lone_pair_dipole: float = 0.0
    electronegativity_slope: dict[str, float] = field(default_factory=dict)
    electronegativity_saturation: float = 0.0
    electronegativity_pair_saturation: float = 0.0
    charge_transfer_saturation: float = 0.0
    hybrid_repulsion: float = 0.0
    lone_pair_s_period2: float = 1.0
    lone_pair_s_period3: float = 1.0
    polarizability_scale: float = 1.0
    polarization_exclusion: float = 0.0
    external_field: tuple[float, float, float] = (0.0, 0.0, 0.0)
    fitted_to: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.coulomb not in ("auto", "dense", "dsf"):
            raise LSIPError(f"coulomb must be 'auto', 'dense' or 'dsf', not {self.coulomb!r}")
        if self.kappa < 0 or self.embedding_scale < 0 or self.electronic_temperature < 0 \
                or self.polarizability_scale < 0:
            raise LSIPError("kappa, embedding_scale, electronic_temperature and polarizability_scale must be >= 0")
        if self.channel_switch_width <= 0 or self.short_range_switch_width <= 0:
            raise LSIPError("switch widths must be positive")
        if not 0.0 <= self.polarization_exclusion <= 1.0:
            raise LSIPError(f"polarization_exclusion must lie in [0, 1], not {self.polarization_exclusion}")
        if self.core_repulsion < 0 or self.lone_pair_dipole < 0:
            raise LSIPError("core_repulsion and lone_pair_dipole must be >= 0")
        if self.hybrid_repulsion < 0 or self.lone_pair_s_period2 <= 0 or self.lone_pair_s_period3 <= 0:
            raise LSIPError("hybrid_repulsion must be >= 0 and the lone-pair s weights > 0")
        if not 0.0 <= self.charge_transfer_saturation <= 1.0:
            raise LSIPError("charge_transfer_saturation must be between 0 and 1")
        if not 0.0 <= self.pauli_bond_relief <= 1.0:
            raise LSIPError("pauli_bond_relief must be between 0 and 1")
        if not (self.electronegativity_saturation >= 0 and self.electronegativity_pair_saturation >= 0):
            raise LSIPError("electronegativity_saturation and electronegativity_pair_saturation must be >= 0")
        field_ = tuple(float(x) for x in self.external_field)
        if len(field_) != 3 or not all(math.isfinite(x) for x in field_):
            raise LSIPError("external_field must be three finite numbers (hartree / (e bohr))")
        object.__setattr__(self, "external_field", field_)

    def with_(self, **changes: object) -> ModelParameters:
        """Return a copy with some fields changed (the app's sliders use this)."""
        return replace(self, **changes)

    def embedding_factor(self, symbol: str) -> float:
        """Total embedding scale of an element."""
        return self.embedding_scale * self.embedding_scale_by_element.get(symbol, 1.0)

    def to_dict(self) -> dict:
        """JSON-serialisable form."""
        return asdict(self)


FIRST_PRINCIPLES = ModelParameters()


def describe(params: ModelParameters) -> str:
    """One line on what a parameter set is and what it was fitted to (the app's sidebar, ``lsip predict``).

    >>> describe(FIRST_PRINCIPLES)
    'first-principles: nothing fitted; atomic DFT data only (docs/model.md)'
    """
    fit = params.fitted_to
    if not fit:
        return f"{params.name}: nothing fitted; atomic DFT data only (docs/model.md)"
    test = fit.get("test_mae", {})
    units = {"atomization_mae": ("atomization", "eV/atom"), "charge_mae": ("charges", "e"),
             "dipole_mae": ("dipoles", "D")}
    parts = [f"{label} {test[k]:.2f} {unit}" for k, (label, unit) in units.items() if k in test]
    return (f"{params.name}: fitted to {fit.get('level', '?')} data ({fit.get('train_size', '?')} training entries, "
            f"{fit.get('test_size', '?')} held out); mean error on the held-out ones: {', '.join(parts)} "
            "(docs/calibration.md)")

#: Folder of the shipped parameter sets (JSON, one per set).
PARAM_DIR = PARAMS_DIR


def available_parameter_sets() -> list[str]:
    """Names of the shipped parameter sets (the first-principles default plus ``assets/params/*.json``)."""
    names = [FIRST_PRINCIPLES.name]
    if PARAM_DIR.is_dir():
        names += sorted(p.stem for p in PARAM_DIR.glob("*.json"))
    return names


def default_parameter_set() -> str:
    """The set the app, the CLI and the ASE calculator use unless told otherwise: the shipped calibrated set
    marked ``fitted_to["default"]`` (``lsip calibrate`` marks a set that beats first-principles on every test
    measure; docs/calibration.md), else ``first-principles``. ``LSIPModel()`` itself defaults to
    first-principles, the unfitted model."""
    for name in available_parameter_sets()[1:]:
        try:
            data = json.loads((PARAM_DIR / f"{name}.json").read_text())
        except (OSError, ValueError):
            continue
        if isinstance(data.get("fitted_to"), dict) and data["fitted_to"].get("default") is True:
            return name
    return FIRST_PRINCIPLES.name


def get_parameters(name: str = "first-principles") -> ModelParameters:
    """Return a shipped parameter set by name; raise LSIPError listing the available ones."""
    if name == FIRST_PRINCIPLES.name:
        return FIRST_PRINCIPLES
    path = PARAM_DIR / f"{name}.json"
    if not path.is_file():
        raise LSIPError(f"unknown parameter set {name!r}; available: {', '.join(available_parameter_sets())}")
    return load_parameter_file(path, name)


def load_parameter_file(path: Path, name: str | None = None) -> ModelParameters:
    """A parameter set from a JSON file as ``lsip calibrate`` writes it (``name``: default the file's stem); used
    for experiments kept outside ``assets/params`` (docs/calibration/experiments/)."""
    try:
        data = json.loads(Path(path).read_text())
        data["born_mayer"] = {k: tuple(v) for k, v in data.get("born_mayer", {}).items()}
        return ModelParameters(**{**data, "name": name or Path(path).name.removesuffix(".json")})
    except (OSError, ValueError, TypeError) as exc:
        raise LSIPError(f"cannot read the parameter set {str(path)!r}: {exc}") from None
