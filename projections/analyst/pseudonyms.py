"""What an analyst may see of a person: keyed pseudonyms, an age band, a postcode district. Nothing finer.

A pseudonym is HMAC-SHA256 of the raw id under a secret key (FRONTDOOR_PSEUDONYM_KEY): the same key gives the
same pseudonym in every export, so exports join; without the key a pseudonym cannot be walked back to the id,
and another key gives unrelated pseudonyms. Every kind of id shares one namespace, so a flag's references join
to the referrals, assessments, contacts and residents they name.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from datetime import date

# 128 bits: collisions are out of reach even across a nation's history, and the columns stay readable.
PSEUDONYM_HEX = 32
_DISTRICT = re.compile(r"^([A-Z]{1,2}[0-9][A-Z0-9]?) ?[0-9][A-Z]{2}$")
_DISTRICT_ONLY = re.compile(r"^[A-Z]{1,2}[0-9][A-Z0-9]?$")
AGE_BANDS = ((18, "0-17"), (40, "18-39"), (65, "40-64"), (75, "65-74"), (85, "75-84"))
OLDEST_BAND = "85+"


class Pseudonyms:
    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise ValueError("the pseudonym key must be at least 16 bytes")
        self._key = key
        self._known: dict[str, str] = {}
        # The keyed HMAC state is set up once and copied per id: `hmac.digest(key, ...)` set it up again for every
        # id, and a replay meets a new id every other event. The library's own HMAC, not a hand-made one.
        self._keyed = hmac.new(key, digestmod=hashlib.sha256)

    def of(self, raw: str) -> str:
        known = self._known.get(raw)
        if known is None:
            mac = self._keyed.copy()
            mac.update(raw.encode())
            known = mac.hexdigest()[:PSEUDONYM_HEX]
            if len(self._known) < 2_000_000:  # ids recur (a referral's every step): remember, within bounds
                self._known[raw] = known
        return known

    def maybe(self, raw: str | None) -> str | None:
        return None if raw is None else self.of(raw)

    @property
    def fingerprint(self) -> str:
        """Names the key without revealing it: a resumed replay must use the key it started with."""
        return hmac.new(self._key, b"frontdoor pseudonym key fingerprint", hashlib.sha256).hexdigest()[:16]


def age_band(date_of_birth: str, on: str) -> str:
    """Coarse bands (children, working age, and the older ages care planning uses), age on the day `on`."""
    born, then = date.fromisoformat(date_of_birth[:10]), date.fromisoformat(on[:10])
    age = then.year - born.year - ((then.month, then.day) < (born.month, born.day))
    for below, band in AGE_BANDS:
        if age < below:
            return band
    return OLDEST_BAND


def postcode_district(postcode: str | None) -> str | None:
    """The outward code ("SO14" of "SO14 7LY"), or None when the text is not a UK postcode: whatever else was
    typed into the field must not leak."""
    if not postcode:
        return None
    text = " ".join(postcode.upper().split())
    match = _DISTRICT.match(text) or _DISTRICT.match(text.replace(" ", "")[:-3] + " " + text.replace(" ", "")[-3:])
    if match:
        return match.group(1)
    return text if _DISTRICT_ONLY.match(text) else None
