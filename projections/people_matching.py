"""Possible duplicate residents (DESIGN §5, rule 6): blocking keys, then a weighted fuzzy score.

Blocking keeps the comparisons few: a new record is compared only with records sharing its date of birth (or
with day and month swapped), its postcode district and birth year, or its family-name sound and birth year (or
that year with its last two digits swapped).
Scoring uses rapidfuzz (Jaro-Winkler) for names; for given names also the `nicknames` dataset, a name cut short
(Gwen, Gwendoline) and an initial (J, John); graded matches for dates and postcodes. Twins and spouses share a
surname, address and sometimes a birthday, so both names must agree before anything else counts, and a name
with a feminine ending (Paula, Geraldine) is never the same name cut short.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import jellyfish
from nicknames import name_triplets
from rapidfuzz.distance import JaroWinkler


def _related_names() -> tuple[dict[str, frozenset[str]], frozenset[str]]:
    """Given names and their nicknames from the `nicknames` dataset (Apache-2.0, about 2,700 pairs), loaded once
    at import: name -> the names it is a nickname of or has as nicknames; and the names that have nicknames."""
    related: dict[str, set[str]] = {}
    full_names: set[str] = set()
    for full, _relationship, short in name_triplets():
        related.setdefault(full, set()).add(short)
        related.setdefault(short, set()).add(full)
        full_names.add(full)
    return {k: frozenset(v) for k, v in related.items()}, frozenset(full_names)


RELATED, FULL_NAMES = _related_names()


@dataclass(frozen=True, slots=True)
class Person:
    resident_id: str
    given_name: str
    family_name: str
    date_of_birth: date
    postcode: str
    nhs_number: str | None = None


def _norm(name: str) -> str:
    return "".join(ch for ch in name.lower() if ch.isalpha())


def district(postcode: str) -> str:
    compact = postcode.replace(" ", "").upper()
    return compact[:-3] if len(compact) > 3 else compact


def swapped(dob: date) -> date | None:
    try:
        return date(dob.year, dob.day, dob.month) if dob.day != dob.month and dob.day <= 12 else None
    except ValueError:
        return None


def _family_sound(person: Person) -> str:
    return jellyfish.metaphone(_norm(person.family_name)) or _norm(person.family_name)


def blocking_keys(person: Person) -> set[str]:
    return {f"dob:{person.date_of_birth.isoformat()}",
            f"pc:{district(person.postcode)}:{person.date_of_birth.year}",
            f"fam:{_family_sound(person)}:{person.date_of_birth.year}"}


def probe_keys(person: Person) -> set[str]:
    """The keys under which this person's possible duplicates are filed: their own, plus those of the birth date
    with day and month swapped and of the birth year with its last two digits swapped (1947 typed as 1974)."""
    keys = blocking_keys(person)
    other = swapped(person.date_of_birth)
    if other is not None:
        keys.add(f"dob:{other.isoformat()}")
    year = year_transposed(person.date_of_birth.year)
    if year is not None:  # the family-name block only: the district's is big, and would add a third of the pairs
        keys.add(f"fam:{_family_sound(person)}:{year}")
    return keys


def year_transposed(year: int) -> int | None:
    tens, units = divmod(year % 100, 10)
    return year - year % 100 + units * 10 + tens if tens != units else None


# Names a letter or an ending apart that belong to different people (brother and sister, boy and girl twins):
# a string distance cannot tell them from a typo, so they are named here. Spelling variants of one name
# (Ann/Anne, Sara/Sarah, Philip/Phillip) are deliberately not in it.
DIFFERENT_PEOPLE = {frozenset(pair) for pair in (
    ("john", "joan"), ("jean", "joan"), ("jean", "john"), ("paul", "paula"), ("paul", "pauline"),
    ("daniel", "danielle"), ("robert", "roberta"), ("louis", "louise"), ("stephen", "stephanie"),
    ("steven", "stephanie"), ("joseph", "josephine"), ("carl", "carla"), ("eric", "erica"), ("george", "georgina"),
    ("henry", "henrietta"), ("francis", "frances"), ("gabriel", "gabrielle"), ("michael", "michelle"),
    ("charles", "charlotte"), ("patrick", "patricia"), ("alexander", "alexandra"), ("victor", "victoria"),
    ("julian", "julia"), ("adrian", "adriana"), ("christopher", "christine"), ("glen", "glenda"),
    ("bernard", "bernadette"), ("edwin", "edwina"), ("nicholas", "nicola"), ("ivan", "ivana"), ("leon", "leona"),
)}
# A name and the same name with one of these endings are a brother's and a sister's (Gerald/Geraldine,
# Carl/Carly, Denis/Denise), not one name cut short, unless the dataset says one is the other's nickname.
FEMININE_ENDINGS = ("a", "ine", "ina", "ette", "etta", "elle", "ella", "y")
DIMINUTIVE_ENDINGS = ("ssie", "ie")
NICKNAME = 0.95
PREFIX = 0.9  # Gwen for Gwendoline, Val for Valerie, Jo for Joanna; Millie for Mildred
INITIAL = 0.88  # J for John: passes the name gate only with the whole birth date (see `score`)


def _feminine_form(short: str, long_: str) -> bool:
    """`long_` is `short` with a feminine ending: Gerald/Geraldine, Carl/Carly, Denis/Denise (not Ann/Anne)."""
    ending = long_[len(short):]
    return len(short) >= 3 and long_.startswith(short) and (
        ending in FEMININE_ENDINGS or (ending == "e" and short.endswith("s")))


def _other_spelling(name: str) -> str | None:
    """C and K at the start exchanged: the dataset knows Katherine -> Kate, not Catherine."""
    first = name[:1]
    return ("k" + name[1:]) if first == "c" else ("c" + name[1:]) if first == "k" else None


def nicknames_of_one_another(x: str, y: str) -> bool:
    """One is the other's nickname in the dataset (O(1): a set lookup or two)."""
    if y in RELATED.get(x, ()):
        return True
    x2, y2 = _other_spelling(x), _other_spelling(y)
    return (x2 is not None and y in RELATED.get(x2, ())) or (y2 is not None and x in RELATED.get(y2, ()))


def given_similarity(a: str, b: str) -> float:
    x, y = _norm(a), _norm(b)
    if x == y:
        return 1.0
    if not x or not y or frozenset((x, y)) in DIFFERENT_PEOPLE:
        return 0.0
    if nicknames_of_one_another(x, y):
        return NICKNAME
    short, long_ = (x, y) if len(x) <= len(y) else (y, x)
    if _feminine_form(short, long_):
        return 0.0
    if long_.startswith(short):
        return INITIAL if len(short) == 1 else PREFIX
    stem = None if short in FULL_NAMES else _diminutive_stem(short)  # Marie is a name, not Mar- made small
    if stem and long_.startswith(stem) and len(long_) >= len(stem) + 3 and not _feminine_form(stem, long_):
        return PREFIX
    return float(JaroWinkler.similarity(x, y))


def _diminutive_stem(name: str) -> str | None:
    """The name cut short under an English pet-name ending: Millie -> mil, Rosie -> ros, Flossie -> flo, Evie -> ev
    (at least two letters; the full name must be at least three longer, so Rosie is not Ross)."""
    for ending in DIMINUTIVE_ENDINGS:
        if name.endswith(ending) and len(name) - len(ending) >= 2:
            stem = name[:-len(ending)]
            return stem[:-1] if len(stem) >= 3 and stem[-1] == stem[-2] else stem
    return None


def date_similarity(a: date, b: date) -> float:
    if a == b:
        return 1.0
    if swapped(a) == b:
        return 0.9
    same = sum((a.year == b.year, a.month == b.month, a.day == b.day))
    if same == 2:
        return 0.75  # one part mistyped (12 for 21, 1974 for 1947)
    return 0.0


def postcode_similarity(a: str, b: str) -> float:
    if a.replace(" ", "").upper() == b.replace(" ", "").upper():
        return 1.0
    return 0.6 if district(a) == district(b) else 0.3  # people move house


def score(a: Person, b: Person) -> float:
    """0..1. Gates first: different NHS numbers are different people; both names must be close."""
    if a.nhs_number and b.nhs_number and a.nhs_number != b.nhs_number:
        return 0.0
    family = float(JaroWinkler.similarity(_norm(a.family_name), _norm(b.family_name)))
    if family < 0.85:
        return 0.0
    given = given_similarity(a.given_name, b.given_name)
    if given < 0.85:
        return 0.0
    dob = date_similarity(a.date_of_birth, b.date_of_birth)
    initial = min(len(_norm(a.given_name)), len(_norm(b.given_name))) == 1
    if dob == 0.0 or (initial and dob < 0.9):  # an initial says little: the whole date (or its swap) must agree
        return 0.0
    return 0.3 * given + 0.3 * family + 0.3 * dob + 0.1 * postcode_similarity(a.postcode, b.postcode)


def explain(a: Person, b: Person, value: float) -> str:
    return (f"{b.given_name} {b.family_name}, born {b.date_of_birth:%-d %b %Y}, {b.postcode} looks like "
            f"{a.given_name} {a.family_name}, born {a.date_of_birth:%-d %b %Y}, {a.postcode} (match {value:.2f}) and "
            "no NHS number tells them apart. If they are one person, link the records.")
