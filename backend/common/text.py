"""Text folding shared by search (SQL) and the database connection set-up (SQLite)."""

from __future__ import annotations

import unicodedata

SQLITE_FOLD = "p360_fold"
"""Name of the SQL function SQLite connections get (see backend/db.py)."""


def _fold_table() -> tuple[str, str]:
    source, target = [], []
    extra = {"ø": "o", "Ø": "O", "ł": "l", "Ł": "L", "đ": "d", "Đ": "D"}
    for code in range(0xC0, 0x250):
        char = chr(code)
        base = unicodedata.normalize("NFKD", char)[:1]
        if base != char and base.isascii() and base.isalpha():
            source.append(char)
            target.append(base)
    for char, base in extra.items():
        source.append(char)
        target.append(base)
    return "".join(source), "".join(target)


FOLD_FROM, FOLD_TO = _fold_table()


_FOLD_TABLE = str.maketrans(FOLD_FROM, FOLD_TO)


def fold_text(text: str) -> str:
    """The Python twin of :class:`fold`: what search terms are compared as."""
    return text.translate(_FOLD_TABLE).lower()
