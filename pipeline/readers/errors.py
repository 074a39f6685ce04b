"""The one exception a reader raises for a file it cannot read."""


class ReadError(Exception):
    """A file that cannot be read as a report at all. The message names the problem in plain words."""
