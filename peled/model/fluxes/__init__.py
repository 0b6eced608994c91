"""Bulk flux schemes (today: Scharfetter-Gummel on the effective band potentials)."""
