"""The one-line error contract of bad input and damaged or out-of-date files, for every test folder."""

from __future__ import annotations


def assert_one_line(error: BaseException, *parts: str) -> str:
    """The error's message is one line and names every part (the file, key, column or row; what is wrong;
    what to do)."""
    message = str(error)
    assert "\n" not in message, message
    for part in parts:
        assert part in message, message
    return message
