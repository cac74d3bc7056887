"""A short-lived, in-process cache of resolved principals, keyed by credential.

Resolving a principal costs five SQL statements (token or session row, the user, roles,
care teams, break-glass grants): on a small query that is most of the request
(`docs/performance.md`). A bearer token or session cookie presented again within
``ttl`` seconds gets the principal resolved the first time.

What can go stale, and for how long:

* Changes made through this process's services (token and session revocation, sign-out,
  break-glass grants) take effect at once: they call :func:`forget_after_commit`, which
  empties the cache when their transaction commits.
* Changes made elsewhere (another worker, a direct database edit, a care-team change)
  take effect within ``ttl`` seconds (``P360_PRINCIPAL_CACHE_SECONDS``; 0 disables the
  cache). An entry never outlives its token's own expiry.

Keys are SHA-256 digests of the credential, so the cache never holds a usable token.
A generation counter, bumped by every invalidation, keeps a resolution that began
before an invalidation from storing what it read.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from cachetools import TTLCache
from sqlalchemy import event
from sqlalchemy.orm import Session

from backend.access.principal import Principal

MAX_ENTRIES = 10_000
MAX_TTL = 300.0  # seconds; a longer setting is clamped to this


@dataclass(frozen=True, slots=True)
class _Entry:
    principal: Principal
    valid_until: float  # monotonic clock


class PrincipalCache:
    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()  # resolutions run in greenlets and worker threads
        self._generation = 0
        # The TTLCache only bounds memory; each entry's own deadline is what get() checks.
        self._entries: TTLCache[str, _Entry] = TTLCache(
            maxsize=MAX_ENTRIES, ttl=MAX_TTL, timer=clock
        )

    @staticmethod
    def key(kind: str, credential: str) -> str:
        return hashlib.sha256(f"{kind}:{credential}".encode()).hexdigest()

    @property
    def generation(self) -> int:
        return self._generation

    def get(self, key: str) -> Principal | None:
        with self._lock:
            entry = self._entries.get(key)
        if entry is None or entry.valid_until <= self._clock():
            return None
        return entry.principal

    def put(
        self,
        key: str,
        principal: Principal,
        *,
        ttl: float,
        generation: int,
        expires_in: float | None = None,
    ) -> None:
        """Keep ``principal`` for ``ttl`` seconds (less if the credential expires sooner),
        unless the cache was invalidated since ``generation`` was read."""
        lifetime = min(ttl, MAX_TTL) if expires_in is None else min(ttl, MAX_TTL, expires_in)
        if lifetime <= 0:
            return
        with self._lock:
            if generation != self._generation:
                return
            self._entries[key] = _Entry(principal, self._clock() + lifetime)

    def clear(self) -> None:
        with self._lock:
            self._generation += 1
            self._entries.clear()


principal_cache = PrincipalCache()


def forget_after_commit(session: Session) -> None:
    """Empty the cache once ``session``'s transaction commits (and right away, so a
    request resolving meanwhile cannot store what it read before the commit)."""
    principal_cache.clear()
    event.listen(session, "after_commit", lambda _s: principal_cache.clear(), once=True)
