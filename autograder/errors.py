"""Errors meant for the person at the keyboard: printed as one line, never as a traceback."""


class UserError(Exception):
    """Something the user can fix; the message says what is wrong and what to do."""

    exit_code = 2


class SubmissionUnreadable(Exception):
    """The submission cannot be graded at all (no notebook, not JSON...); it scores 0 with this reason."""
