"""Errors peled raises for bad input (always naming the file, the key and what is allowed)."""


class PeledInputError(ValueError):
    """A material, device or sweep description is invalid."""
