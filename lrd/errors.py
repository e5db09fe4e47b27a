"""The one exception type for bad user input.

Anything a user can get wrong (an unknown name, an impossible length, a bad config key) raises
``ConfigError`` with a message that says what was wrong and what is allowed. The CLI prints it as
one line and exits with status 2; library users can catch it (it is a ``ValueError``).
"""

import difflib


class ConfigError(ValueError):
    """Bad user input: the message says what was wrong and what is allowed."""


def unknown_name(kind: str, name: object, allowed) -> ConfigError:
    """Error for a name that is not registered, with a did-you-mean hint."""
    allowed = sorted(allowed)
    hint = difflib.get_close_matches(str(name), allowed, n=1)
    tip = f" (did you mean '{hint[0]}'?)" if hint else ""
    return ConfigError(f"unknown {kind} '{name}'{tip}; available: {', '.join(allowed)}")
