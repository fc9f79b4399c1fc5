"""NHS number checks, by the maintained `nhs-number` library rather than a hand-written modulus 11."""

from __future__ import annotations

import re

from nhs_number.validate import is_valid

_SEPARATORS = re.compile(r"[\s-]")


def normalise_nhs_number(raw: str) -> str:
    """'943 476 5919' -> '9434765919'; raises ValueError when it is not a valid NHS number."""
    digits = _SEPARATORS.sub("", raw)
    if not digits.isdigit() or len(digits) != 10:
        raise ValueError("an NHS number has 10 digits")
    if not is_valid(digits):
        raise ValueError("not a valid NHS number (check digit does not match)")
    return digits
