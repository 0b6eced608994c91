"""Recombination terms: bulk SRH, radiative and Auger (:mod:`.bulk`)."""
