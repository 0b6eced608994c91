"""Heterointerface transfer terms (today: thermionic emission)."""
