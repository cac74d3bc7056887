"""Identifier rules: SSNs are kept only as a keyed hash plus the last four digits."""

from __future__ import annotations

import hashlib
import hmac
import re

_SSN = re.compile(r"^\s*(\d{3})-?(\d{2})-?(\d{4})\s*$")


class InvalidSSNError(ValueError):
    pass


def ssn_key(secret_key: str) -> bytes:
    """The key SSN hashes are made with, derived from the app secret for one purpose only."""
    return hmac.new(secret_key.encode(), b"patient360/ssn-hash/v1", hashlib.sha256).digest()


def hash_ssn(ssn: str, *, key: bytes) -> tuple[str, str]:
    """Return (keyed hash, last 4) for a US SSN; raise InvalidSSNError for anything else.

    A keyed hash, not a plain one: there are only 10^9 SSNs, so an unkeyed SHA-256 is
    reversed by brute force in minutes. The same key always gives the same hash, so the
    patient matcher can still compare SSNs for equality.
    """
    match = _SSN.match(ssn)
    if not match:
        raise InvalidSSNError("SSN must be nine digits, optionally as 123-45-6789")
    area, group, serial = match.groups()
    if area in {"000", "666"} or area.startswith("9") or group == "00" or serial == "0000":
        raise InvalidSSNError("not a valid SSN: that area, group or serial is never issued")
    digits = area + group + serial
    return hmac.new(key, digits.encode(), hashlib.sha256).hexdigest(), serial
