"""One error type for bad user input: the CLI prints its message as one line."""


class KfusionError(ValueError):
    """Bad input (a file, key or value) with a one-line message naming it and what was expected."""
