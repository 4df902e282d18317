"""User mistakes: the CLI prints them as one line and exits with code 2."""


class UsageError(Exception):
    """Bad flags, a missing checkpoint, an unreachable server: something the user can fix."""
