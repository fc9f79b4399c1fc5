"""Possible duplicate residents (DESIGN §5, rule 6): blocking keys, then a weighted fuzzy score.

Blocking keeps the comparisons few: a new record is compared only with records sharing its date of birth (or
with day and month swapped), its postcode district and birth year, or its family-name sound and birth year.
Scoring uses rapidfuzz (Jaro-Winkler) for names, a nickname table for given names, and graded matches for
dates and postcodes. Twins and spouses share a surname, address and sometimes a birthday, so both names must
agree before anything else counts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import jellyfish
from rapidfuzz.distance import JaroWinkler

# Common English given-name variants (both directions are checked).
NICKNAMES: dict[str, set[str]] = {
    "margaret": {"peggy", "maggie", "meg", "marge", "madge", "rita"},
    "william": {"bill", "billy", "will", "willie", "liam"},
    "elizabeth": {"liz", "lizzie", "beth", "betty", "bess", "eliza", "libby", "elsie"},
    "robert": {"bob", "bobby", "rob", "robbie", "bert"},
    "richard": {"dick", "rick", "ricky", "rich"},
    "james": {"jim", "jimmy", "jamie"},
    "john": {"jack", "johnny", "jon"},
    "catherine": {"kate", "cathy", "kath", "katie", "kitty"},
    "katherine": {"kate", "kathy", "kath", "katie", "kitty"},
    "patricia": {"pat", "patty", "trish", "tricia"},
    "edward": {"ted", "eddie", "ed", "ned"},
    "thomas": {"tom", "tommy"},
    "anthony": {"tony"},
    "dorothy": {"dot", "dotty", "dolly"},
    "barbara": {"barb", "babs"},
    "susan": {"sue", "susie"},
    "charles": {"charlie", "chuck", "chas"},
    "frederick": {"fred", "freddie"},
    "alfred": {"alf", "alfie", "fred"},
    "henry": {"harry", "hal"},
    "joseph": {"joe", "joey"},
    "michael": {"mike", "mick", "micky"},
    "christopher": {"chris", "kit"},
    "christine": {"chris", "chrissie", "tina"},
    "jennifer": {"jenny", "jen"},
    "mary": {"molly", "polly", "mae"},
    "ann": {"annie", "nancy"},
    "anne": {"annie", "nancy"},
    "helen": {"nell", "nellie"},
    "eleanor": {"ellie", "nell", "nora"},
    "victoria": {"vicky", "tori"},
    "david": {"dave", "davy"},
    "peter": {"pete"},
    "stephen": {"steve"},
    "steven": {"steve"},
    "kenneth": {"ken", "kenny"},
    "leonard": {"len", "lenny"},
    "ronald": {"ron", "ronnie"},
    "donald": {"don", "donny"},
    "gerald": {"gerry"},
    "geoffrey": {"geoff", "jeff"},
    "joan": {"joanie"},
    "josephine": {"jo", "josie"},
    "sarah": {"sally", "sal"},
    "frances": {"fran", "frankie"},
    "francis": {"frank", "frankie"},
    "albert": {"bert", "bertie", "al"},
    "arthur": {"art", "artie"},
    "daniel": {"dan", "danny"},
    "samuel": {"sam", "sammy"},
}
_VARIANTS: dict[str, set[str]] = {}
for _full, _short in NICKNAMES.items():
    for _name in (_full, *_short):
        _VARIANTS.setdefault(_name, set()).update({_full, *_short} - {_name})


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


def blocking_keys(person: Person) -> set[str]:
    family = jellyfish.metaphone(_norm(person.family_name)) or _norm(person.family_name)
    return {f"dob:{person.date_of_birth.isoformat()}",
            f"pc:{district(person.postcode)}:{person.date_of_birth.year}",
            f"fam:{family}:{person.date_of_birth.year}"}


def probe_keys(person: Person) -> set[str]:
    """The keys under which this person's possible duplicates are filed (their own, plus a swapped birth date)."""
    keys = blocking_keys(person)
    other = swapped(person.date_of_birth)
    if other is not None:
        keys.add(f"dob:{other.isoformat()}")
    return keys


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


def _different_people(x: str, y: str) -> bool:
    return frozenset((x, y)) in DIFFERENT_PEOPLE


def given_similarity(a: str, b: str) -> float:
    x, y = _norm(a), _norm(b)
    if x == y:
        return 1.0
    if y in _VARIANTS.get(x, set()):
        return 0.95
    if _different_people(x, y):
        return 0.0
    return float(JaroWinkler.similarity(x, y))


def date_similarity(a: date, b: date) -> float:
    if a == b:
        return 1.0
    if swapped(a) == b:
        return 0.9
    same = sum((a.year == b.year, a.month == b.month, a.day == b.day))
    if same == 2:
        return 0.75  # one part mistyped
    return 0.0


def postcode_similarity(a: str, b: str) -> float:
    if a.replace(" ", "").upper() == b.replace(" ", "").upper():
        return 1.0
    return 0.6 if district(a) == district(b) else 0.3  # people move house


def score(a: Person, b: Person) -> float:
    """0..1. Gates first: different NHS numbers are different people; both names must be close."""
    if a.nhs_number and b.nhs_number and a.nhs_number != b.nhs_number:
        return 0.0
    given = given_similarity(a.given_name, b.given_name)
    family = float(JaroWinkler.similarity(_norm(a.family_name), _norm(b.family_name)))
    if given < 0.85 or family < 0.85:
        return 0.0
    dob = date_similarity(a.date_of_birth, b.date_of_birth)
    if dob == 0.0:
        return 0.0
    return 0.3 * given + 0.3 * family + 0.3 * dob + 0.1 * postcode_similarity(a.postcode, b.postcode)


def explain(a: Person, b: Person, value: float) -> str:
    return (f"{b.given_name} {b.family_name}, born {b.date_of_birth:%-d %b %Y}, {b.postcode} looks like "
            f"{a.given_name} {a.family_name}, born {a.date_of_birth:%-d %b %Y}, {a.postcode} (match {value:.2f}) and "
            "no NHS number tells them apart. If they are one person, link the records.")
