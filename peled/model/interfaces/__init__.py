"""Heterointerface transfer terms: thermionic emission."""
