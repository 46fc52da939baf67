"""The one exception type users see.

Every error caused by the user's input (a YAML file, an event file, a profile name, a
network that does not fit) is raised as :class:`ChipsimError`. The CLI prints its message
on one line (line breaks in what it quotes are escaped) and exits with status 2, with no
traceback.
"""

from __future__ import annotations


class ChipsimError(Exception):
    """A user-facing error: names the file, the field and what was expected."""

    def __init__(self, message: str, *, file: str | None = None, field: str | None = None,
                 expected: str | None = None):
        self.file = None if file is None else str(file)
        self.field = field
        self.expected = expected
        self.detail = message
        parts = []
        if self.file:
            parts.append(self.file)
        if field:
            parts.append(f"field '{field}'")
        head = ": ".join(parts)
        text = f"{head}: {message}" if head else message
        if expected:
            text += f" (expected {expected})"
        # one line whatever it quotes (a key or a path read from a file may hold a line break)
        super().__init__(text.translate(_ONE_LINE))


#: every character str.splitlines() breaks at, written as its escape
_ONE_LINE = {ord(c): repr(c)[1:-1] for c in "\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029"}
