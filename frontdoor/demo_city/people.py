"""The people of a synthetic Southampton-like city: en_GB names, ages skewed old, postcodes in the six clusters,
GP practices, long-term needs and NHS numbers from the range that is never issued (synthetic/test patients).

Everything comes from one seeded `random.Random` and one seeded Faker, called in a fixed order, so the same
seed gives the same people. The variants at the bottom make a second, imperfect registration of one person.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from datetime import date, timedelta

from faker import Faker
from nhs_number.constants import REGION_SYNTHETIC
from nhs_number.validate import calculate_checksum

from events.vocabulary import Need

# Outward code and sectors per cluster (teams.json): close to the real map, not a copy of it.
AREAS: dict[str, tuple[tuple[str, str], ...]] = {
    "central": (("SO14", "0123567"),),
    "north": (("SO17", "123"), ("SO16", "37"), ("SO18", "12")),
    "east": (("SO18", "3456"), ("SO30", "0234")),
    "west": (("SO15", "01234578"), ("SO16", "4")),
    "itchen": (("SO19", "012456789"), ("SO31", "45")),
    "redbridge": (("SO16", "05689"), ("SO40", "23489")),
}
CLUSTERS = tuple(AREAS)
# The letters a postcode's unit may use (C, I, K, M, O and V never appear there).
UNIT_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"
GP_PRACTICES: dict[str, tuple[str, ...]] = {
    "central": ("St Mary's Surgery", "Bargate Medical Centre", "Bevois Town Practice"),
    "north": ("Portswood Road Surgery", "Highfield Health", "Bassett Green Practice"),
    "east": ("Bitterne Park Surgery", "Peartree Practice", "Harefield Medical Centre"),
    "west": ("Shirley Avenue Surgery", "Freemantle Practice", "Millbrook Health Centre"),
    "itchen": ("Woolston Lodge Surgery", "Sholing Medical Practice", "Weston Lane Surgery"),
    "redbridge": ("Lordshill Health Centre", "Coxford Surgery", "Redbridge Practice"),
}
# Long-term needs, weighted toward what an older population brings to a front door.
NEED_WEIGHTS: dict[Need, int] = {
    "mobility and falls": 24, "long-term condition": 22, "personal care": 18, "memory and cognition": 10,
    "social isolation": 8, "carer support": 6, "mental health": 5, "finance and benefits": 4, "housing": 2,
    "safeguarding": 1,
}
NICKNAMES: dict[str, str] = {
    "Margaret": "Peggy", "Elizabeth": "Liz", "Patricia": "Pat", "Susan": "Sue", "Dorothy": "Dot",
    "Catherine": "Kate", "Jennifer": "Jenny", "Barbara": "Babs", "Deborah": "Debbie", "Christine": "Chris",
    "William": "Bill", "Robert": "Bob", "Richard": "Dick", "James": "Jim", "Edward": "Ted", "Anthony": "Tony",
    "Frederick": "Fred", "Albert": "Bert", "Kenneth": "Ken", "Michael": "Mike", "Thomas": "Tom", "Joseph": "Joe",
}
_COMMON_YEAR = date(2025, 1, 1)  # no 29 February
FEMALE_FORMAL = tuple(name for name in NICKNAMES if NICKNAMES[name] in
                      {"Peggy", "Liz", "Pat", "Sue", "Dot", "Kate", "Jenny", "Babs", "Debbie", "Chris"})
MALE_FORMAL = tuple(name for name in NICKNAMES if name not in FEMALE_FORMAL)


@dataclass(frozen=True, slots=True)
class Person:
    given_name: str
    family_name: str
    date_of_birth: date
    postcode: str
    cluster: str
    gp_practice: str
    nhs_number: str | None
    female: bool
    needs: tuple[Need, ...]


class PeopleMaker:
    """Makes distinct people. Two ordinary people never share a date of birth and a family-name initial, so no
    accidental pair looks like one person registered twice; the pairs that should look so are made on purpose."""

    def __init__(self, seed: str, *, today: date) -> None:
        self.rng = random.Random(f"people:{seed}")
        self.faker = Faker("en_GB")
        self.faker.seed_instance(f"faker:{seed}")
        self.today = today
        self._numbers: set[str] = set()
        self._birth_keys: set[tuple[date, str]] = set()

    def person(self, *, given_name: str | None = None, female: bool | None = None, family_name: str | None = None,
               postcode: str | None = None, dob: date | None = None, swappable_dob: bool = False,
               with_number: bool | None = None) -> Person:
        female = self.rng.random() < 0.58 if female is None else female  # older cohorts are mostly women
        given = given_name or (self.faker.first_name_female() if female else self.faker.first_name_male())
        family = family_name or self.faker.last_name()
        born = dob or self._unique_birth(family, swappable=swappable_dob)
        self._birth_keys.add((born, family[:1]))
        code = postcode or self.postcode(self.rng.choice(CLUSTERS))
        cluster = cluster_of(code)
        needs = tuple(dict.fromkeys(self.rng.choices(list(NEED_WEIGHTS), list(NEED_WEIGHTS.values()),
                                                     k=self.rng.randint(1, 3))))
        has_number = self.rng.random() >= 0.03 if with_number is None else with_number
        return Person(given, family, born, code, cluster, self.rng.choice(GP_PRACTICES[cluster]),
                      self.nhs_number() if has_number else None, female, needs)

    def age(self) -> int:
        draw = self.rng.random()
        if draw < 0.8:
            return int(self.rng.triangular(65, 97, 82))
        return self.rng.randint(40, 64) if draw < 0.95 else self.rng.randint(18, 39)

    def _unique_birth(self, family: str, *, swappable: bool) -> date:
        while True:
            # A day of a common year, then the year: the draws (and so the whole city) stay the same whichever
            # day the city is written; only the birth years follow the calendar.
            day = _COMMON_YEAR + timedelta(days=self.rng.randint(0, 364))
            born = day.replace(year=self.today.year - self.age())
            if swappable and not (born.day <= 12 and born.day != born.month):
                continue
            if (born, family[:1]) not in self._birth_keys:
                return born

    def postcode(self, cluster: str) -> str:
        district, sectors = self.rng.choice(AREAS[cluster])
        unit = self.rng.choice(UNIT_LETTERS) + self.rng.choice(UNIT_LETTERS)
        return f"{district} {self.rng.choice(sectors)}{unit}"

    def nhs_number(self) -> str:
        """A valid (modulus 11) number from the range never issued to real patients; unique in the city.
        `nhs_number.generate` draws from the global `random`, so we draw the nine digits from our seeded
        generator and let the library compute the check digit."""
        (test_range,) = REGION_SYNTHETIC.ranges
        while True:
            body = str(self.rng.randint(test_range.start, test_range.end) // 10).zfill(9)
            check = calculate_checksum(body)
            if check is None or check > 9:  # no valid number has this body
                continue
            number = f"{body}{check}"
            if number not in self._numbers:
                self._numbers.add(number)
                return number

    def spouse_of(self, partner: Person) -> Person:
        """Same surname and address, another first name and another date of birth (not a swap of its digits)."""
        while True:
            spouse = self.person(female=not partner.female, family_name=partner.family_name,
                                 postcode=partner.postcode, with_number=True)
            if spouse.date_of_birth not in (partner.date_of_birth, transposed(partner.date_of_birth)) and \
                    _unrelated(spouse.given_name, partner.given_name):
                return replace(spouse, gp_practice=partner.gp_practice)

    def twin_of(self, partner: Person) -> Person:
        """Same surname, date of birth and address; another first name (never a nickname of the other's)."""
        while True:
            twin = self.person(female=self.rng.random() < 0.5, family_name=partner.family_name,
                               postcode=partner.postcode, dob=partner.date_of_birth, with_number=True)
            if _unrelated(twin.given_name, partner.given_name):
                return twin

    def formal_name(self, female: bool) -> str:
        return self.rng.choice(FEMALE_FORMAL if female else MALE_FORMAL)


def cluster_of(postcode: str) -> str:
    district, inward = postcode.split(" ")
    for cluster, areas in AREAS.items():
        if any(district == d and inward[0] in sectors for d, sectors in areas):
            return cluster
    raise ValueError(f"postcode {postcode} is outside the city")


def transposed(born: date) -> date:
    """Day and month swapped (4 March <-> 3 April), as when a US-style date is typed in; itself if impossible."""
    try:
        return born.replace(month=born.day, day=born.month)
    except ValueError:
        return born


def typo(name: str, rng: random.Random) -> str:
    """One keying slip: two letters swapped, a letter dropped, a letter doubled or a vowel changed."""
    i = rng.randint(1, len(name) - 2) if len(name) > 3 else 1
    slip = rng.choice(("swap", "drop", "double", "vowel"))
    if slip == "swap" and name[i] != name[i + 1]:
        return name[:i] + name[i + 1] + name[i] + name[i + 2:]
    if slip == "drop" and len(name) > 4:
        return name[:i] + name[i + 1:]
    vowels = [j for j in range(1, len(name)) if name[j] in "aeiou"]
    if slip == "vowel" and vowels:
        j = rng.choice(vowels)
        return name[:j] + rng.choice([v for v in "aeiouy" if v != name[j]]) + name[j + 1:]
    return name[:i] + name[i] + name[i:]


def _unrelated(a: str, b: str) -> bool:
    """Not the same name, not a nickname of one another, not even the same initial."""
    return a[:1] != b[:1] and NICKNAMES.get(a) != b and NICKNAMES.get(b) != a
