"""Given-name nicknames from the maintained ``nicknames`` package (Old Dominion's list).

A name's *canonical set* is the name itself plus every formal name it is a nickname of
and, for a formal name, nothing more: "bill" -> {bill, william, will, ...},
"william" -> {william}. Two given names are nickname-equal when one's canonical set
holds the other, or both are nicknames of a shared formal name.
"""

from __future__ import annotations

from functools import lru_cache

from nicknames import NickNamer


@lru_cache(maxsize=1)
def _namer() -> NickNamer:
    return NickNamer()


@lru_cache(maxsize=65536)
def canonical_forms(name: str) -> frozenset[str]:
    """The name (already folded to lower-case ASCII) and the formal names it stands for."""
    if len(name) < 2:
        return frozenset({name}) if name else frozenset()
    return frozenset({name, *_namer().canonicals_of(name)})


def nickname_equal(a: str, b: str) -> bool:
    if not a or not b or a == b:
        return False
    fa, fb = canonical_forms(a), canonical_forms(b)
    return b in fa or a in fb or bool(fa & fb - {a, b})
