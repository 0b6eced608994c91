"""Bulk flux schemes: Scharfetter-Gummel on the effective band potentials."""
