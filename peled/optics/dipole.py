"""Dipole emission in a planar multilayer: power spectra, Purcell factor, mode budget.

A classical oscillating dipole at distance z_- [nm] above the bottom (anode-side) and
z_+ [nm] below the top (cathode-side) boundary of a lossless emitter layer of index n_e
and thickness d = z_- + z_+ radiates into plane waves of normalised in-plane wavevector
u = k_x / (k0 n_e) [-]. With c = sqrt(1 - u^2) (Im c >= 0), the half-stacks' reflection
coefficients r_-^{s,p} (toward the substrate) and r_+^{s,p} (toward the top), seen from
the emitter (:mod:`peled.optics.multilayer`), and

    a_(+/-) = r_(+/-) exp(2 i k0 n_e c z_(+/-)),   a = r_+ r_- exp(2 i k0 n_e c d)

the power it dissipates per d(u^2), relative to the same dipole in an infinite medium of
index n_e, is (R. R. Chance, A. Prock and R. Silbey, Adv. Chem. Phys. 37, 1 (1978);
K. A. Neyts, J. Opt. Soc. Am. A 15, 962 (1998); M. Furno, R. Meerheim, S. Hofmann,
B. Luessem and K. Leo, Phys. Rev. B 85, 115205 (2012), Eqs. 8-10, erratum Phys. Rev. B
88, 119905 (2013)):

    K_v    = Re[ 3/4 (u^2 / c) (1 + a_+^p)(1 + a_-^p) / (1 - a^p) ]     vertical (TM)
    K_h,p  = Re[ 3/8  c        (1 - a_+^p)(1 - a_-^p) / (1 - a^p) ]     horizontal, TM
    K_h,s  = Re[ 3/8 (1 / c)   (1 + a_+^s)(1 + a_-^s) / (1 - a^s) ]     horizontal, TE

normalised so that each orientation gives 1 in a homogeneous medium. The Purcell factor
(total decay rate over the free-space rate in n_e) is F = int_0^inf 2 u K du; an
ensemble with a fraction Theta of horizontal dipoles (isotropic: Theta = 2/3) has
K = (1 - Theta) K_v + Theta (K_h,p + K_h,s).

**Where the power goes** (the mode budget, each as a fraction of F), by the in-plane
wavevector and the index of the two outer media (substrate n_sub below, air above):

* power transmitted into an outer medium, for u < n_out / n_e (real c): the wave the
  dipole sends toward that side, |D|^2 = |1 +/- a_(other side)|^2 / |1 - a|^2 times
  half the free-space spectrum, times the half-stack's power transmittance
  (:func:`peled.optics.multilayer.power_transmittance`); the sign is - for the
  horizontal TM dipole, + otherwise;
* **bottom emission** (through a thick, incoherent glass substrate): ``to_air`` is the
  power in the substrate inside its escape cone times the incoherent escape probability
  T_ga / (1 - R_ga R_stack) (glass/air Fresnel T and R, R_stack the thin-film stack's
  reflectance seen from the glass, every reflection summed in power); ``to_substrate``
  the power beyond the escape cone (trapped by total internal reflection); the part of
  the escape cone that returns into the stack is counted as ``absorbed``;
* **top emission**: ``to_air`` is the power transmitted through the top into air,
  ``to_substrate`` all the power transmitted into the substrate;
* ``waveguided``: dissipated power with max(n_sub, n_air) < u n_e < n_wg, n_wg the
  largest index of the non-metallic layers (and at least n_e): guided modes of the
  thin films;
* ``evanescent``: u n_e > n_wg, the near field: surface plasmons and lossy surface
  waves (quenching by absorbing layers near the dipole);
* ``absorbed``: the dissipated power at u n_e < max(n_sub, n_air) not transmitted into
  an emission-side medium (direct absorption in the layers, light leaving through the
  opposite side, the returned part of the escape cone).

The five fractions sum to 1 by construction; the *independent* checks are that a
lossless stack absorbs nothing (the K formula and the transmitted power agree) and that
F from one contour equals the sum of the channels' contours (tests/test_optics.py).

**The integrals.** Guided modes and surface plasmons are poles of K on (lossless
layers) or just above (lossy layers) the real u axis; the branch points of the outer
media's q lie on it. F and the evanescent and waveguided channels are integrated on
half-ellipses dipping below the real axis between real end points (contour
deformation: the poles of the physical, exp(-i omega t), solution lie above the axis,
so the path below it gives the small-loss limit, and the integrand is analytic in
between), the transmitted power (|t|^2 is not analytic) on the real axis, where the
radiative range has no poles. End points sit on the branch points, and a cosine
substitution t = (1 - cos pi s)/2 clusters the Gauss-Legendre nodes there, which makes
their square-root behaviour smooth; the near-field tail beyond the last pole is mapped
by u = u_end + L tau / (1 - tau) with L = 1 / (2 k0 n_e z_min). Accuracy is measured in
tests/test_optics.py and docs/model/optics.md.

**Limits.** The emitter layer is taken lossless (its extinction coefficient is dropped:
photon reabsorption in the emitter is not modelled, which keeps the dipole's power
finite and well defined); the outer media need indices below n_e; a dipole on an
interface with an absorbing layer is refused (its power diverges, classical quenching).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import jax.numpy as jnp
import numpy as np

from peled.optics.multilayer import normal_index, power_transmittance, stack_coefficients

Array = jnp.ndarray

#: Gauss-Legendre nodes per real segment, per contour half-ellipse and on the tail
N_REAL = 96
N_ELLIPSE = 160
N_TAIL = 96
#: depth of the half-ellipses below the real axis, relative to their half-width
ELLIPSE_DEPTH = 0.5
#: the contour returns to the real axis this factor beyond the largest pole candidate
POLE_MARGIN = 1.3
#: closest a dipole may come to a layer boundary [nm]
MIN_DISTANCE_NM = 0.05

ORIENTATIONS = ("isotropic", "horizontal", "vertical")
CHANNELS = ("to_air", "to_substrate", "waveguided", "evanescent", "absorbed")
#: horizontal-dipole fraction of each orientation row
HORIZONTAL_FRACTION = {"isotropic": 2.0 / 3.0, "horizontal": 1.0, "vertical": 0.0}


class DipoleStack(NamedTuple):
    """The optical stack around an emitter, per wavelength (arrays of shape (n_lambda,)).

    ``eps_below`` lists the layers between the emitter and the substrate from the
    emitter outward (the anode last), ``eps_above`` those toward the top (the cathode
    last); ``d_*`` their thicknesses [nm]. The emitter is lossless, index ``n_emitter``.
    """

    wavelength_nm: Array
    n_emitter: Array
    emitter_thickness_nm: Array
    eps_below: tuple[Array, ...]
    d_below: tuple[Array, ...]
    eps_substrate: Array
    eps_above: tuple[Array, ...]
    d_above: tuple[Array, ...]
    eps_top: Array

    @property
    def k0_per_nm(self) -> Array:
        return 2.0 * jnp.pi / self.wavelength_nm


def _gauss_legendre(n: int) -> tuple[np.ndarray, np.ndarray]:
    x, w = np.polynomial.legendre.leggauss(n)
    return 0.5 * (x + 1.0), 0.5 * w


def _clustered(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Nodes t in (0, 1) and weights dt, clustered at both ends: t = (1 - cos pi s)/2."""
    s, w = _gauss_legendre(n)
    return 0.5 * (1.0 - np.cos(np.pi * s)), w * 0.5 * np.pi * np.sin(np.pi * s)


def _last_axis(x: np.ndarray, like: Array) -> np.ndarray:
    """``x`` (nodes) shaped to broadcast on the last axis of ``like[..., None]``."""
    return np.reshape(x, (1,) * jnp.ndim(like) + (-1,))


def real_segment(ua: Array, ub: Array, n: int | None = None) -> tuple[Array, Array]:
    """Real nodes u and weights du on [ua, ub] (arrays broadcast; nodes on the last axis)."""
    t, w = _clustered(n or N_REAL)
    t, w = _last_axis(t, ua), _last_axis(w, ua)
    ua, ub = ua[..., None], ub[..., None]
    return ua + (ub - ua) * t, (ub - ua) * w


def ellipse_segment(ua: Array, ub: Array, n: int | None = None) -> tuple[Array, Array]:
    """Complex nodes and weights du on the half-ellipse from ua to ub below the axis."""
    t, w = _clustered(n or N_ELLIPSE)
    theta = _last_axis(np.pi * t, ua)
    w = _last_axis(w, ua)
    ua, ub = ua[..., None], ub[..., None]
    half = 0.5 * (ub - ua)
    depth = ELLIPSE_DEPTH * half
    u = 0.5 * (ua + ub) - half * np.cos(theta) - 1j * depth * np.sin(theta)
    du = (half * np.sin(theta) - 1j * depth * np.cos(theta)) * np.pi * w
    return u, du


def tail_segment(ua: Array, scale: Array, n: int | None = None) -> tuple[Array, Array]:
    """Real nodes and weights on [ua, inf): u = ua + scale tau / (1 - tau)."""
    tau, w = _gauss_legendre(n or N_TAIL)
    tau, w = _last_axis(tau, ua), _last_axis(w, ua)
    ua, scale = ua[..., None], scale[..., None]
    return ua + scale * tau / (1.0 - tau), scale * w / (1.0 - tau) ** 2


class _Geometry(NamedTuple):
    """Broadcast shapes: wavelength axis 0, position axis 1, u axis 2."""

    stack: DipoleStack
    n_e: Array  # (L, 1, 1)
    k0: Array  # (L, 1, 1)
    z_minus: Array  # (1, P, 1)
    z_plus: Array  # (1, P, 1)


def _col(a: Array) -> Array:
    return jnp.asarray(a)[:, None, None]


def _geometry(stack: DipoleStack, z_minus_nm: Array) -> _Geometry:
    z = jnp.asarray(z_minus_nm, dtype=float)[None, :, None]
    d = jnp.asarray(stack.emitter_thickness_nm, dtype=float)
    return _Geometry(stack, _col(stack.n_emitter), _col(stack.k0_per_nm), z, d - z)


def _half_stack(geo: _Geometry, side: str, beta2: Array, pol: str) -> tuple[Array, Array]:
    s = geo.stack
    if side == "below":
        layers, d, outer = s.eps_below, s.d_below, s.eps_substrate
    else:
        layers, d, outer = s.eps_above, s.d_above, s.eps_top
    eps_e = geo.n_e**2 + 0j
    return stack_coefficients(
        eps_e,
        [_col(e) for e in layers],
        [jnp.asarray(x, dtype=float) for x in d],
        _col(outer),
        beta2,
        geo.k0,
        pol,
    )


def spectra(geo: _Geometry, u: Array) -> dict[str, Array]:
    """The complex integrands 2 u K (before the real part) of the three dipole terms
    ``v``, ``hp``, ``hs`` at in-plane wavevectors u (real or on a contour)."""
    beta2 = (geo.n_e * u) ** 2
    c = normal_index(1.0 + 0j, u * u + 0j)
    phase = 2j * geo.k0 * geo.n_e * c
    e_minus = jnp.exp(phase * geo.z_minus)
    e_plus = jnp.exp(phase * geo.z_plus)
    out = {}
    for pol in ("p", "s"):
        r_minus, _ = _half_stack(geo, "below", beta2, pol)
        r_plus, _ = _half_stack(geo, "above", beta2, pol)
        a_m, a_p = r_minus * e_minus, r_plus * e_plus
        den = 1.0 - a_m * a_p
        if pol == "p":
            out["v"] = 2 * u * 0.75 * u * u / c * (1 + a_p) * (1 + a_m) / den
            out["hp"] = 2 * u * 0.375 * c * (1 - a_p) * (1 - a_m) / den
        else:
            out["hs"] = 2 * u * 0.375 / c * (1 + a_p) * (1 + a_m) / den
    return out


def transmitted(geo: _Geometry, u: Array) -> dict[str, Array]:
    """The power transmitted into the substrate (``*_down``) and into the top medium
    (``*_up``) per d(u^2), for real u < 1, per dipole term."""
    beta2 = (geo.n_e * u) ** 2
    c = jnp.sqrt(1.0 - u * u)
    phase = 2j * geo.k0 * geo.n_e * c
    e_minus = jnp.exp(phase * geo.z_minus)
    e_plus = jnp.exp(phase * geo.z_plus)
    s = geo.stack
    eps_e = geo.n_e**2 + 0j
    half = {"v": 0.375 * u * u / c, "hp": 0.1875 * c, "hs": 0.1875 / c}
    sign = {"v": 1.0, "hp": -1.0, "hs": 1.0}
    out = {}
    for pol, terms in (("p", ("v", "hp")), ("s", ("hs",))):
        r_minus, t_minus = _half_stack(geo, "below", beta2, pol)
        r_plus, t_plus = _half_stack(geo, "above", beta2, pol)
        a_m, a_p = r_minus * e_minus, r_plus * e_plus
        den2 = jnp.abs(1.0 - a_m * a_p) ** 2
        tr_down = power_transmittance(t_minus, eps_e, _col(s.eps_substrate), beta2, pol)
        tr_up = power_transmittance(t_plus, eps_e, _col(s.eps_top), beta2, pol)
        for term in terms:
            k = sign[term]
            out[term + "_down"] = half[term] * jnp.abs(1 + k * a_p) ** 2 / den2 * tr_down
            out[term + "_up"] = half[term] * jnp.abs(1 + k * a_m) ** 2 / den2 * tr_up
    return out


def _escape(geo: _Geometry, u: Array) -> dict[str, Array]:
    """Incoherent escape probability through the substrate into air, per polarisation:
    T_ga / (1 - R_ga R_stack), zero outside the escape cone."""
    s = geo.stack
    beta2 = (geo.n_e * u) ** 2
    eps_sub = _col(s.eps_substrate)
    eps_air = _col(s.eps_top)
    # the whole thin-film stack seen from the substrate, the emitter lossless
    layers = [_col(e) for e in reversed(s.eps_below)] + [geo.n_e**2 + 0j]
    layers += [_col(e) for e in s.eps_above]
    thick = [jnp.asarray(x, dtype=float) for x in reversed(s.d_below)]
    thick += [jnp.asarray(s.emitter_thickness_nm, dtype=float)]
    thick += [jnp.asarray(x, dtype=float) for x in s.d_above]
    out = {}
    for pol in ("p", "s"):
        r_st, _ = stack_coefficients(eps_sub, layers, thick, eps_air, beta2, geo.k0, pol)
        r_ga, t_ga = stack_coefficients(eps_sub, [], [], eps_air, beta2, geo.k0, pol)
        t_pow = power_transmittance(t_ga, eps_sub, eps_air, beta2, pol)
        # outside the escape cone T = 0 and R_ga = 1; a lossless stack then reflects
        # everything too (0/0): nothing escapes there
        inside = t_pow > 0
        den = jnp.where(inside, 1.0 - jnp.abs(r_ga) ** 2 * jnp.abs(r_st) ** 2, 1.0)
        out[pol] = jnp.where(inside, t_pow / den, 0.0)
    return out


def _limits(geo: _Geometry) -> dict[str, Array]:
    """Segment end points in u per wavelength (shape (L, 1)) and the tail scale (L, P)."""
    s = geo.stack
    n_e = geo.n_e[:, :, 0]
    n_sub = jnp.real(jnp.sqrt(_col(s.eps_substrate) + 0j))[:, :, 0]
    n_top = jnp.real(jnp.sqrt(_col(s.eps_top) + 0j))[:, :, 0]
    n_wg = n_e
    candidates = [n_e]
    outer = (s.eps_substrate, s.eps_top)
    for e in (*s.eps_below, *s.eps_above, *outer):
        e = _col(e)[:, :, 0]
        n = jnp.real(jnp.sqrt(e + 0j))
        dielectric = jnp.real(e) > 0
        n_wg = jnp.where(dielectric, jnp.maximum(n_wg, n), n_wg)
        candidates.append(jnp.where(dielectric, n, 0.0))
    # surface-plasmon indices of every metal against the largest dielectric index:
    # sqrt(eps_m eps_d / (eps_m + eps_d)) (bounded where eps_m ~ -eps_d)
    for e in (*s.eps_below, *s.eps_above, *outer):
        e = _col(e)[:, :, 0]
        eps_d = n_wg**2
        spp = jnp.abs(jnp.sqrt(e * eps_d / (e + eps_d + 1e-3j)))
        candidates.append(jnp.where(jnp.real(e) < 0, jnp.minimum(spp, 10 * n_wg), 0.0))
    u_end = POLE_MARGIN * jnp.max(jnp.stack(candidates), axis=0) / n_e
    z_min = jnp.maximum(jnp.minimum(geo.z_minus, geo.z_plus)[:, :, 0], MIN_DISTANCE_NM)
    return {
        "u1": jnp.minimum(n_sub, n_top) / n_e,
        "u2": jnp.maximum(n_sub, n_top) / n_e,
        "u_wg": n_wg / n_e,
        "u_end": u_end,
        "tail_scale": 1.0 / (2.0 * geo.k0[:, :, 0] * n_e * z_min),
    }


def _weights(horizontal_fraction: float) -> dict[str, float]:
    return {"v": 1.0 - horizontal_fraction, "hp": horizontal_fraction, "hs": horizontal_fraction}


def _contour_integral(geo: _Geometry, u: Array, du: Array) -> dict[str, Array]:
    """Re int 2 u K du per dipole term over one (broadcast) set of nodes."""
    f = spectra(geo, u)
    # a segment of zero length (an outer medium index-matched to the emitter) puts its
    # nodes on the branch point u = 1, where the integrand is 0/0: it contributes nothing
    return {k: jnp.real(jnp.sum(jnp.where(du != 0, v, 0.0) * du, axis=-1)) for k, v in f.items()}


def mode_budget(
    stack: DipoleStack, z_minus_nm: Array, emission_side: str = "bottom"
) -> dict[str, dict[str, Array]]:
    """Purcell factor and the five power channels for each dipole term.

    Returns ``{term: {"purcell_factor": F, "to_air": ..., ...}}`` for the terms ``v``
    (vertical), ``hp`` and ``hs`` (horizontal TM and TE), each of shape
    (n_wavelengths, n_positions), as powers relative to the free-space dipole (so the
    channels of a term sum to its F). :func:`orientation_budget` combines them.
    ``z_minus_nm``: dipole distances from the emitter's anode-side boundary [nm].
    """
    if emission_side not in ("bottom", "top"):
        raise ValueError(f"emission_side must be 'bottom' or 'top', not {emission_side!r}")
    geo = _geometry(stack, z_minus_nm)
    lim = _limits(geo)
    zero = jnp.zeros_like(lim["u1"])

    # radiative range, real axis: dissipated, transmitted, escape
    rad = [real_segment(zero, lim["u1"]), real_segment(lim["u1"], lim["u2"])]
    dissipated_rad: dict[str, Array] = {}
    down: dict[str, Array] = {}
    up: dict[str, Array] = {}
    air: dict[str, Array] = {}
    returned: dict[str, Array] = {}
    for u, du in rad:
        u3, du3 = u[:, :, :], du[:, :, :]
        f = spectra(geo, u3 + 0j)
        tr = transmitted(geo, u3)
        if emission_side == "bottom":
            esc = _escape(geo, u3)
        for term in ("v", "hp", "hs"):
            pol = "s" if term == "hs" else "p"
            live = du3 != 0  # see _contour_integral
            dissipated_rad[term] = dissipated_rad.get(term, 0.0) + jnp.sum(
                jnp.where(live, jnp.real(f[term]), 0.0) * du3, axis=-1
            )
            d_in = jnp.where(live, 2 * u3 * tr[term + "_down"], 0.0)
            u_out = jnp.where(live, 2 * u3 * tr[term + "_up"], 0.0)
            down[term] = down.get(term, 0.0) + jnp.sum(d_in * du3, axis=-1)
            up[term] = up.get(term, 0.0) + jnp.sum(u_out * du3, axis=-1)
            if emission_side == "bottom":
                in_cone = (geo.n_e * u3) ** 2 < jnp.real(_col(stack.eps_top))
                a = jnp.sum(jnp.where(live, d_in * esc[pol], 0.0) * du3, axis=-1)
                air[term] = air.get(term, 0.0) + a
                cone = jnp.sum(jnp.where(in_cone, d_in, 0.0) * du3, axis=-1)
                returned[term] = returned.get(term, 0.0) + cone - a

    # nodes (L, 1, N): the half-stacks' coefficients are computed once per wavelength and
    # broadcast over the positions (only the phase factors depend on them)
    wg = _contour_integral(geo, *ellipse_segment(lim["u2"], lim["u_wg"]))
    ev = _contour_integral(geo, *ellipse_segment(lim["u_wg"], lim["u_end"]))
    u_t, du_t = tail_segment(jnp.broadcast_to(lim["u_end"], lim["tail_scale"].shape),
                             lim["tail_scale"])
    tail = _contour_integral(geo, u_t + 0j, du_t)

    out: dict[str, dict[str, Array]] = {}
    for term in ("v", "hp", "hs"):
        if emission_side == "bottom":
            to_air = air[term]
            to_sub = down[term] - air[term] - returned[term]
            absorbed = dissipated_rad[term] - down[term] + returned[term]
        else:
            to_air = up[term]
            to_sub = down[term]
            absorbed = dissipated_rad[term] - down[term] - up[term]
        ch = {
            "to_air": to_air,
            "to_substrate": to_sub,
            "waveguided": wg[term],
            "evanescent": ev[term] + tail[term],
            "absorbed": absorbed,
        }
        ch["purcell_factor"] = sum(ch[c] for c in CHANNELS)
        out[term] = ch
    return out


def purcell_factor(stack: DipoleStack, z_minus_nm: Array) -> dict[str, Array]:
    """F per dipole term from a single contour (one half-ellipse from 0 to beyond every
    pole, then the tail): an evaluation independent of :func:`mode_budget`'s split."""
    geo = _geometry(stack, z_minus_nm)
    lim = _limits(geo)
    u, du = ellipse_segment(jnp.zeros_like(lim["u_end"]), lim["u_end"], 2 * N_ELLIPSE)
    main = _contour_integral(geo, u, du)
    u_t, du_t = tail_segment(jnp.broadcast_to(lim["u_end"], lim["tail_scale"].shape),
                             lim["tail_scale"])
    tail = _contour_integral(geo, u_t + 0j, du_t)
    return {k: main[k] + tail[k] for k in main}


def orientation_budget(
    budget: dict[str, dict[str, Array]], horizontal_fraction: float
) -> dict[str, Array]:
    """Purcell factor and channel *fractions* (summing to 1) of an ensemble with a
    fraction ``horizontal_fraction`` of horizontal dipoles, weighted by power (the
    dipole's total power is the ensemble average: 2/3 gives the isotropic dipole)."""
    w = _weights(horizontal_fraction)
    total = {k: sum(w[t] * budget[t][k] for t in w) for k in ("purcell_factor", *CHANNELS)}
    f = total["purcell_factor"]
    out = {"purcell_factor": f}
    out.update({c: total[c] / f for c in CHANNELS})
    return out


def forward_radiant_intensity(
    stack: DipoleStack, z_minus_nm: Array, angles_deg: Sequence[float] | Array,
    emission_side: str = "bottom",
) -> dict[str, Array]:
    """Radiant intensity into air per steradian at polar angles theta [deg], per dipole
    term, as a fraction of the free-space dipole's power: I(theta) = K_air(u) cos(theta)
    / (pi n_e^2) with u = sin(theta) / n_e; shape (n_lambda, n_positions, n_angles).
    Integrated over the hemisphere it gives the ``to_air`` power."""
    geo = _geometry(stack, z_minus_nm)
    theta = jnp.deg2rad(jnp.asarray(angles_deg, dtype=float))[None, None, :]
    n_air = jnp.sqrt(jnp.real(_col(stack.eps_top)))
    u = jnp.broadcast_to(n_air * jnp.sin(theta) / geo.n_e,
                         (geo.n_e.shape[0], 1, theta.shape[-1]))
    tr = transmitted(geo, u)
    out = {}
    if emission_side == "bottom":
        esc = _escape(geo, u)
    for term in ("v", "hp", "hs"):
        pol = "s" if term == "hs" else "p"
        if emission_side == "bottom":
            k_air = tr[term + "_down"] * esc[pol]
        else:
            k_air = tr[term + "_up"]
        # power per d(u^2); d(u^2) = n_air^2 cos(theta) dOmega / (pi n_e^2)
        out[term] = k_air * n_air**2 * jnp.cos(theta) / (jnp.pi * geo.n_e**2)
    return out
