"""Figures of the model functions and their numerics, drawn from peled's own functions.

Writes into docs/figures/ (``make model-figures``):

* ``model-statistics.png``: occupancy n/N vs the reduced Fermi level for Boltzmann,
  Fermi-Dirac F_1/2 and Gauss-Fermi (sigma/kT = 2, 4, 6, with the low-density limit), and
  the carriers per crystal of a 10 nm CsPbBr3 film with and without charging;
* ``model-egdm.png``: the EGDM enhancement factors g1 (density) and g2 (field);
* ``numerics-gauss-fermi-quadrature.png``: the Gauss-Fermi quadrature's error against
  scipy.integrate.quad vs the number of trapezoid nodes Q;
* ``numerics-charging-newton.png``: the residual of the charged nanocrystal occupancy vs
  the cap on its safeguarded Newton steps.

No device is solved: only the statistics and mobility functions are evaluated (about a
minute on one CPU core).
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import jax
import matplotlib
import numpy as np
from scipy import constants, integrate, optimize

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

OUT = Path(__file__).resolve().parent
T_K = 300.0
KT_EV = constants.k * T_K / constants.e  # [eV]
DPI = 130


def _save(fig, name: str) -> None:
    path = OUT / name
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    print(f"wrote {path.relative_to(OUT.parent.parent)}")


def statistics_figure() -> None:
    """n/N vs eta for the band and Gaussian statistics; carriers per crystal of a film."""
    import jax.numpy as jnp

    from peled.model.statistics.fermi_dirac import fermi_dirac_half_log
    from peled.model.statistics.gauss_fermi import gauss_fermi_log_occupancy
    from peled.model.statistics.nanocrystal import (
        charging_energy_eV,
        confinement_unit_eV,
        nanocrystal_log_occupancy,
    )

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11.5, 4.6))
    eta = np.linspace(-40.0, 10.0, 1001)
    ax1.semilogy(eta, np.exp(eta), color="k", label="Boltzmann  exp(η)")
    ax1.semilogy(
        eta,
        np.exp(np.asarray(fermi_dirac_half_log(jnp.asarray(eta)))),
        color="0.5",
        lw=2.5,
        ls=":",
        label="Fermi–Dirac  F$_{1/2}$(η)",
    )
    colours = {2.0: "tab:blue", 4.0: "tab:orange", 6.0: "tab:green"}
    for s, colour in colours.items():
        g = np.exp(np.asarray(gauss_fermi_log_occupancy(jnp.asarray(eta), s)))
        ax1.semilogy(eta, g, color=colour, label=f"Gauss–Fermi  σ/kT = {s:g}")
        limit = np.exp(eta + 0.5 * s * s)
        keep = limit < 10.0
        ax1.semilogy(eta[keep], limit[keep], color=colour, ls="--", lw=1)
    ax1.plot([], [], color="0.3", ls="--", lw=1, label="low-density limit  exp(η + s²/2)")
    ax1.set_ylim(1e-14, 30.0)
    ax1.set_xlim(eta[0], eta[-1])
    ax1.set_xlabel("reduced Fermi level η = (E$_F$ − E$_0$)/kT  [-]")
    ax1.set_ylabel("occupancy n/N  [-]")
    ax1.set_title("Occupancy per state (N: band DOS or N$_0$ sites)", fontsize=10)
    ax1.legend(loc="lower right", fontsize=8)
    ax1.grid(True, which="major", alpha=0.3)

    edge, mass, disp = 10e-9, 0.25, 0.1
    e1 = confinement_unit_eV(edge, mass) / KT_EV
    eta2 = np.linspace(-10.0, 15.0, 501)
    f0 = 2.0 * np.exp(np.asarray(nanocrystal_log_occupancy(jnp.asarray(eta2), e1, disp)))
    ax2.semilogy(eta2, f0, color="k", label="no charging")
    for eps_r, colour in ((12.0, "tab:red"), (6.0, "tab:purple")):
        u = charging_energy_eV(edge, eps_r) / KT_EV
        f = 2.0 * np.exp(np.asarray(nanocrystal_log_occupancy(jnp.asarray(eta2), e1, disp, u)))
        ax2.semilogy(
            eta2,
            f,
            color=colour,
            label=f"charging, ε$_r$ = {eps_r:g}: U = {1e3 * u * KT_EV:.0f} meV = {u:.2f} kT",
        )
    ax2.axhline(2.0, color="0.5", lw=0.8, ls=":")
    ax2.text(eta2[0] + 0.3, 2.4, "2: ground level full", fontsize=8, color="0.4")
    ax2.axhline(54.0, color="0.5", lw=0.8, ls=":")
    ax2.text(eta2[0] + 0.3, 64.0, "54: all 27 orbitals kept", fontsize=8, color="0.4")
    ax2.set_xlim(eta2[0], eta2[-1])
    ax2.set_ylim(1e-5, 300.0)
    ax2.set_xlabel("reduced Fermi level η = (E$_F$ − E$_{111}$)/kT  [-]")
    ax2.set_ylabel("carriers per crystal f = 2n/N$_c$  [-]")
    ax2.set_title(
        f"10 nm CsPbBr$_3$ film: e$_1$ = {1e3 * e1 * KT_EV:.1f} meV = {e1:.2f} kT, "
        f"σ$_L$/L = {disp:g}",
        fontsize=10,
    )
    ax2.legend(loc="lower right", fontsize=8)
    ax2.grid(True, which="major", alpha=0.3)
    fig.suptitle("Statistics at 300 K", fontsize=11)
    fig.tight_layout()
    _save(fig, "model-statistics.png")


def egdm_figure() -> None:
    """EGDM g1 vs occupancy and g2 vs reduced field for sigma/kT = 3..6."""
    import jax.numpy as jnp

    from peled.model.mobility.egdm import (
        EGDM_OCCUPANCY_MAX,
        EGDM_REDUCED_FIELD_MAX,
        egdm_g1,
        egdm_g2,
    )

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11.5, 4.4))
    c = np.logspace(-8.0, 0.0, 401)
    en = np.linspace(0.0, 3.0, 301)
    for s in (3.0, 4.0, 5.0, 6.0):
        g1 = np.asarray(egdm_g1(s, jnp.asarray(c)))
        g2 = np.asarray(egdm_g2(s, jnp.asarray(en)))
        ax1.loglog(c, g1, label=f"σ/kT = {s:g}")
        ax2.semilogy(en, g2, label=f"σ/kT = {s:g}")
    _cap_marker(ax1, EGDM_OCCUPANCY_MAX, EGDM_OCCUPANCY_MAX * 1.15, "cap c = 0.1")
    ax1.set_xlabel("occupancy per site c = n/N$_0$  [-]")
    ax1.set_ylabel("density enhancement g$_1$  [-]")
    ax1.set_title("g$_1$ = exp[(σ̂² − σ̂)(2c)$^δ$/2]", fontsize=10)
    ax1.legend(loc="upper left", fontsize=8)
    ax1.grid(True, which="major", alpha=0.3)
    _cap_marker(ax2, EGDM_REDUCED_FIELD_MAX, EGDM_REDUCED_FIELD_MAX + 0.04, "cap E$_n$ = 2")
    ax2.set_xlabel("reduced field E$_n$ = F e a / σ  [-]")
    ax2.set_ylabel("field enhancement g$_2$  [-]")
    ax2.set_title("g$_2$ = exp{0.44(σ̂$^{1.5}$ − 2.2)[(1 + 0.8 E$_n^2$)$^{1/2}$ − 1]}", fontsize=10)
    ax2.legend(loc="upper left", fontsize=8)
    ax2.grid(True, which="major", alpha=0.3)
    fig.suptitle(
        "EGDM mobility μ = μ$_0$ g$_1$ g$_2$ (Pasveer et al. 2005): enhancement over μ$_0$",
        fontsize=11,
    )
    fig.tight_layout()
    _save(fig, "model-egdm.png")


def _cap_marker(ax, x: float, x_text: float, label: str) -> None:
    """A dotted vertical line at the EGDM model's cap ``x`` with its label beside it."""
    ax.axvline(x, color="0.5", lw=0.8, ls=":")
    ax.text(x_text, 1.3, label, fontsize=8, color="0.4", rotation=90, va="bottom")


def _gauss_fermi_reference(eta: float, s: float) -> float:
    """ln G(eta, s) by scipy.integrate.quad (epsrel 1e-13) around the integrand's mode."""

    def log_integrand(x: float) -> float:
        return -0.5 * x * x - np.logaddexp(0.0, s * x - eta)

    # the mode: root of x + s sigmoid(s x - eta) in [-s, 0]
    mode = optimize.brentq(lambda x: x + s * 0.5 * (1 + math.tanh(0.5 * (s * x - eta))), -s, 0.0)
    peak = log_integrand(mode)
    lo, hi = mode - 12.0, mode + 12.0  # the integrand is below a unit Gaussian about the mode
    points = [eta / s] if lo < eta / s < hi else None
    value, _ = integrate.quad(
        lambda x: math.exp(log_integrand(x) - peak),
        lo,
        hi,
        points=points,
        epsabs=0.0,
        epsrel=1e-13,
        limit=400,
    )
    return peak + math.log(value) - 0.5 * math.log(2.0 * math.pi)


def gauss_fermi_quadrature_figure() -> None:
    """Max relative error of the Gauss-Fermi quadrature vs its number of nodes Q."""
    import jax.numpy as jnp

    from peled.model.statistics import gauss_fermi

    etas = np.concatenate([np.linspace(-80.0, -10.0, 8), np.linspace(-8.0, 10.0, 10)])
    ss = np.array([0.5, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0])
    eta_g, s_g = (a.ravel() for a in np.meshgrid(etas, ss))
    ref = np.array([_gauss_fermi_reference(e, s) for e, s in zip(eta_g, s_g, strict=True)])

    chosen = gauss_fermi.Q
    qs = list(range(13, 27, 2))
    worst = {}
    by_s = {}
    try:
        for q in qs:
            gauss_fermi.Q = q
            fn = jax.jit(lambda e, s: gauss_fermi.gauss_fermi_log_occupancy(e, s))
            log_g = np.asarray(fn(jnp.asarray(eta_g), jnp.asarray(s_g)))
            err = np.abs(np.expm1(log_g - ref))
            worst[q] = err.max()
            by_s[q] = np.array([err[s_g == s].max() for s in ss])
    finally:
        gauss_fermi.Q = chosen
    for q in qs:
        print(f"  Q = {q}: max relative error of G {worst[q]:.2e}")

    fig, ax = plt.subplots(figsize=(7.0, 4.6))
    floor = 1e-17
    ax.semilogy(qs, [max(worst[q], floor) for q in qs], "o-", color="k", lw=2, label="all points")
    for s, colour in ((2.0, "tab:blue"), (4.0, "tab:orange"), (8.0, "tab:red")):
        i = int(np.flatnonzero(ss == s)[0])
        ax.semilogy(
            qs,
            [max(by_s[q][i], floor) for q in qs],
            "s--",
            ms=4,
            color=colour,
            lw=1,
            label=f"σ/kT = {s:g}",
        )
    ax.axvline(chosen, color="0.5", ls=":", lw=1)
    ax.text(chosen + 0.15, 1e-9, f"Q = {chosen}\n(used)", fontsize=8, color="0.3")
    ax.axhline(2.2e-16, color="0.5", ls="-.", lw=0.8)
    ax.text(qs[0], 3.5e-16, "float64 ε", fontsize=8, color="0.4")
    ax.set_xticks(qs)
    ax.set_xlabel(
        f"trapezoid nodes Q (spacing H = {gauss_fermi.H:g} σ, "
        f"{gauss_fermi.POLES} poles corrected)  [-]"
    )
    ax.set_ylabel("max |G / G$_{quad}$ − 1|  [-]")
    ax.set_title(
        "Gauss–Fermi quadrature vs scipy quad (epsrel 1e-13)\n"
        f"{len(etas)} η in [−80, 10] × {len(ss)} σ/kT in [0.5, 8]",
        fontsize=10,
    )
    ax.legend(loc="upper right", fontsize=8)
    ax.grid(True, which="major", alpha=0.3)
    fig.tight_layout()
    _save(fig, "numerics-gauss-fermi-quadrature.png")


def charging_newton_figure() -> None:
    """Residual of the charged nanocrystal occupancy vs the cap on its Newton steps."""
    import jax.numpy as jnp

    from peled.model.statistics import nanocrystal

    e1_device = nanocrystal.confinement_unit_eV(10e-9, 0.25) / KT_EV
    cases = (
        (
            f"device-like: e$_1$/kT = {e1_device:.2f}, σ$_L$/L = 0.1, u = 0.7, η in [−40, 15]",
            e1_device,
            0.1,
            0.7,
            np.linspace(-40.0, 15.0, 221),
            "tab:blue",
        ),
        (
            "sharp ladder: e$_1$/kT = 8, σ$_L$/L = 0, u = 6, η in [−80, 60]",
            8.0,
            0.0,
            6.0,
            np.linspace(-80.0, 60.0, 561),
            "tab:red",
        ),
    )
    caps = [0, 1, 2, 3, 4, 5, 6, 8, 10, 12, 15, 20, 25, 30, 35, 40, 50, 100]
    chosen = nanocrystal.CHARGING_MAX_STEPS
    fig, ax = plt.subplots(figsize=(7.0, 4.6))
    floor = 1e-17
    try:
        for label, e1, disp, u, eta, colour in cases:
            shape = eta.shape
            args = (
                jnp.asarray(eta),
                jnp.full(shape, e1),
                jnp.full(shape, disp),
                jnp.full(shape, u),
            )
            residual = []
            for cap in caps:
                nanocrystal.CHARGING_MAX_STEPS = cap
                fn = jax.jit(lambda *a: nanocrystal.nanocrystal_log_occupancy(*a))
                x = fn(*args)
                free = nanocrystal._free_log_occupancy(
                    args[0] - 2.0 * args[3] * jnp.exp(x), args[1], args[2]
                )
                residual.append(float(jnp.max(jnp.abs(x - free))))
            print(
                f"  {label}: "
                + ", ".join(f"{c}: {r:.1e}" for c, r in zip(caps, residual, strict=True))
            )
            ax.semilogy(caps, np.maximum(residual, floor), "o-", ms=3.5, color=colour, label=label)
    finally:
        nanocrystal.CHARGING_MAX_STEPS = chosen
    ax.axvline(chosen, color="0.5", ls=":", lw=1)
    ax.text(chosen - 1.0, 1e-2, f"cap used: {chosen}", fontsize=8, color="0.3", ha="right")
    ax.set_xscale("symlog", linthresh=10.0, linscale=1.0)
    ax.set_xlim(-0.5, 110)
    ax.set_xticks([0, 2, 4, 6, 8, 10, 20, 50, 100])
    ax.set_xticklabels(["0", "2", "4", "6", "8", "10", "20", "50", "100"])
    ax.set_xlabel("cap on safeguarded Newton steps CHARGING_MAX_STEPS  [-]")
    ax.set_ylabel("max |x − S(η − 2u e$^x$)|,  x = ln(n/N$_c$)  [-]")
    ax.set_title(
        "Charged nanocrystal occupancy: residual of the self-consistency\n"
        "(after the final implicit-function Newton step)",
        fontsize=10,
    )
    ax.legend(loc="center right", fontsize=8)
    ax.grid(True, which="major", alpha=0.3)
    fig.tight_layout()
    _save(fig, "numerics-charging-newton.png")


def main() -> None:
    jax.config.update("jax_enable_x64", True)
    for figure in (
        statistics_figure,
        egdm_figure,
        gauss_fermi_quadrature_figure,
        charging_newton_figure,
    ):
        start = time.perf_counter()
        figure()
        print(f"  {figure.__name__}: {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
