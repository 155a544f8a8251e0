"""User-facing errors: raised before expensive work, with a message that says what to fix."""


class MimoError(Exception):
    """An expected failure (bad input, missing package, corrupt download)."""


class InputError(MimoError, ValueError):
    """Bad user input; the message names the file, row and field."""
