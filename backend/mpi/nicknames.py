"""Given-name nicknames from the maintained ``nicknames`` package (Old Dominion's list).

A name's *canonical set* is the name itself plus every formal name it is a nickname of
and, for a formal name, nothing more: "bill" -> {bill, william, will, ...},
"william" -> {william}.
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


@lru_cache(maxsize=65536)
def _has_nicknames(name: str) -> bool:
    return bool(_namer().nicknames_of(name))


def nickname_equal(a: str, b: str) -> bool:
    """One is a nickname of the other (bill/william, billy/bill), or both stand for one
    formal name and at least one is only ever a nickname (jimmy/jim, liz/beth). Two
    names that are formal names in their own right do not meet through a third: the
    list makes mary and rose both short for rosemary, and bill and bob for robert."""
    if not a or not b or a == b:
        return False
    fa, fb = canonical_forms(a), canonical_forms(b)
    if b in fa or a in fb:
        return True
    shared = (fa & fb) - {a, b}
    return bool(shared) and not (_has_nicknames(a) and _has_nicknames(b))
