"""Database credentials that follow a rotated secret.

Secrets Manager's multi-user rotation alternates the secret between two database users:
the user it just switched away from keeps its password until the next rotation. So a
host that re-reads the secret now and then, and at once when the database refuses its
password, never meets a rotation it cannot survive, and never needs a restart."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

from service.config import ConfigError, secret_field

# MySQL's ER_ACCESS_DENIED_ERROR: the user/password pair was refused at connect time.
ACCESS_DENIED = 1045
DEFAULT_MAX_AGE_SECONDS = 300


@dataclass(frozen=True)
class UserPassword:
    user: str
    password: str

    def __repr__(self) -> str:
        return f"UserPassword(user={self.user!r})"


class RotatingCredentials:
    """The current user and password of one database. With a `secret_arn` and a `reader`
    they are re-read when older than `max_age_seconds` or when `refresh(force=True)` is
    called after an access-denied error; without, they are fixed (local runs)."""

    def __init__(
        self,
        initial: UserPassword,
        *,
        secret_arn: str | None = None,
        reader: Callable[[str], str] | None = None,
        max_age_seconds: float = DEFAULT_MAX_AGE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if secret_arn and reader is None:
            raise ConfigError("a database secret needs a secret reader to follow its rotation")
        self._current = initial
        self._secret_arn = secret_arn
        self._reader = reader
        self._max_age = max_age_seconds
        self._clock = clock
        self._read_at = clock()
        self._lock = asyncio.Lock()
        # Bumped whenever the credentials change, so pools can tell they are behind.
        self.version = 0

    @property
    def current(self) -> UserPassword:
        return self._current

    @property
    def rotates(self) -> bool:
        return self._secret_arn is not None

    def stale(self) -> bool:
        return self.rotates and self._clock() - self._read_at >= self._max_age

    async def refresh(self, *, force: bool = False, seen_version: int | None = None) -> bool:
        """Re-read the secret (when stale, or always with `force`); True when it changed.
        A caller that saw `seen_version` fail skips the read if someone already moved on."""
        if not self.rotates:
            return False
        async with self._lock:
            if seen_version is not None and seen_version != self.version:
                return True
            if not force and not self.stale():
                return False
            assert self._secret_arn is not None and self._reader is not None
            raw = await asyncio.to_thread(self._reader, self._secret_arn)
            self._read_at = self._clock()
            fresh = UserPassword(secret_field(raw, "username"), secret_field(raw, "password"))
            if fresh == self._current:
                return False
            self._current = fresh
            self.version += 1
            return True
