"""One exception type for bad task data or bad task names, so the CLI can print one line for it."""


class TaskError(ValueError):
    """A user-facing problem with a task name, a data file or a row; the message names the culprit."""
