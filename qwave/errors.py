"""The one exception type qwave raises for bad user input."""

from __future__ import annotations


class QwaveInputError(ValueError):
    """Invalid physics or input; the message is one line naming the bad value."""
