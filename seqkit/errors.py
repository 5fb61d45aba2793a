"""Errors that reach users: the CLI prints them as one line and exits with code 2."""


class UserError(Exception):
    """Bad input from the user (a file, a key, a flag): the message says what was expected, and where."""
