"""Numbers written as text (path segments, query values, form fields, Zammad's sizes), read
strictly: ASCII digits only, no sign, no spaces, no leading zeros. Python's `int()` and
`str.isdigit()` also take "²", Arabic-Indic digits and " 7 ", so two spellings of one link
or size would be accepted, and some of them fail later with a 500 (docs/security.md)."""

import re

_WHOLE = re.compile(r"(?:0|[1-9][0-9]*)\Z")  # on str, [0-9] is ASCII only (unlike \d)


def whole_number(text: object, max_digits: int) -> int | None:
    """The number `text` spells, or None when it is not one spelled exactly so."""
    if not isinstance(text, str) or len(text) > max_digits or not _WHOLE.match(text):
        return None
    return int(text)
