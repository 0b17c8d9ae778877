"""visreason: reward design for GRPO training of vision-language models on visual puzzles."""

__version__ = "0.1.0"


class VisreasonError(Exception):
    """A user-facing error: bad input, a missing file, an invalid setting.

    The CLI prints its message as one line and exits with status 2, so the
    message must name the offending key, record, or path.
    """
