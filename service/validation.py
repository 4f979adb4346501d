"""The formats of every identifier and text the API accepts, one place for the checks
and for the OpenAPI document that describes them.

Each pattern must match the whole value (``re.fullmatch``): with ``re.match`` and a
trailing ``$``, Python also accepts a final newline, so ``"eve\\n"`` passed as a new
username that looked like ``eve``."""

from __future__ import annotations

import re

USERNAME = re.compile(r"[a-z0-9_]{3,32}")
USER_ID = re.compile(r"[1-9][0-9]{0,18}")
ULID = re.compile(r"[0-9A-HJKMNP-TV-Z]{26}")
POST_ID = re.compile(rf"({USER_ID.pattern})-({ULID.pattern})")
MEDIA_KEY = re.compile(rf"media/({USER_ID.pattern})/{ULID.pattern}\.(jpg|png|gif|webp|mp4)")
# One character that is not whitespace as str.isspace() defines it (str.strip() removes
# exactly these), spelled so that JSON Schema's ECMA-262 regexes read it the same way.
NOT_BLANK = re.compile(r"[^\t-\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]")
# Digits only, ASCII: str.isdigit() also accepts "²", which int() then refuses.
DECIMAL = re.compile(r"[0-9]{1,19}")

MAX_USER_ID = 2**63 - 1
DEFAULT_PAGE, MAX_PAGE = 20, 100


def matches(pattern: re.Pattern[str], value: str) -> bool:
    return pattern.fullmatch(value) is not None


def has_text(value: str) -> bool:
    return NOT_BLANK.search(value) is not None


def schema_pattern(pattern: re.Pattern[str]) -> str:
    """The pattern as a JSON Schema (ECMA-262) ``pattern``: there ``$`` is the end of the text."""
    return f"^{pattern.pattern}$"


def user_id(raw: str) -> int | None:
    """A user id from a path, or None when it is not a canonical positive 64-bit integer."""
    if not matches(USER_ID, raw) or int(raw) > MAX_USER_ID:
        return None
    return int(raw)
