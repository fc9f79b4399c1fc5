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
# English diminutives as a second registration might give them, written for the generator alone: the detector
# never sees this list (it has the `nicknames` dataset), so a city measures it on nicknames nobody tuned it to.
FEMALE_DIMINUTIVES: dict[str, tuple[str, ...]] = {
    "Margaret": ("Peggy", "Maggie", "Meg", "Madge", "Rita"), "Elizabeth": ("Liz", "Beth", "Betty", "Bess", "Lizzie"),
    "Patricia": ("Pat", "Trish", "Patsy"), "Susan": ("Sue", "Susie"), "Dorothy": ("Dot", "Dolly", "Dottie"),
    "Catherine": ("Kate", "Cathy", "Kitty"), "Jennifer": ("Jenny", "Jen"), "Barbara": ("Babs", "Barbie"),
    "Deborah": ("Debbie", "Debs"), "Christine": ("Chrissie", "Tina"), "Rebecca": ("Becky", "Becca"),
    "Victoria": ("Vicky", "Tori"), "Jacqueline": ("Jackie", "Jacqui"), "Rosemary": ("Rosie", "Ro"),
    "Gwendoline": ("Gwen", "Wendy"), "Valerie": ("Val",), "Josephine": ("Jo", "Josie"), "Frances": ("Fran", "Fanny"),
    "Winifred": ("Winnie", "Freda"), "Mildred": ("Millie",), "Florence": ("Flo", "Florrie", "Flossie"),
    "Eleanor": ("Nell", "Ellie", "Nora"), "Theresa": ("Tess", "Tessa", "Terri"), "Beverley": ("Bev",),
    "Pamela": ("Pam",), "Judith": ("Judy", "Jude"), "Kathleen": ("Kath", "Kathy"), "Gillian": ("Gill", "Jill"),
    "Philippa": ("Pippa", "Pip"), "Penelope": ("Penny",), "Abigail": ("Abbie", "Gail"), "Harriet": ("Hattie",),
    "Isabel": ("Izzy", "Bel"), "Mary": ("Molly", "Polly"), "Sarah": ("Sally", "Sadie"), "Edith": ("Edie",),
    "Evelyn": ("Evie",), "Amanda": ("Mandy",), "Caroline": ("Carrie", "Caz"), "Constance": ("Connie",),
    "Prudence": ("Prue",), "Veronica": ("Ronnie", "Vera"), "Gertrude": ("Gertie", "Trudy"),
}
MALE_DIMINUTIVES: dict[str, tuple[str, ...]] = {
    "William": ("Bill", "Billy", "Will"), "Robert": ("Bob", "Bobby", "Rob", "Robbie"),
    "Richard": ("Dick", "Rick", "Richie"), "James": ("Jim", "Jimmy", "Jamie"), "Edward": ("Ted", "Eddie", "Ned"),
    "Anthony": ("Tony", "Ant"), "Frederick": ("Fred", "Freddie"), "Albert": ("Bert", "Bertie", "Al"),
    "Kenneth": ("Ken", "Kenny"), "Michael": ("Mike", "Mick", "Mickey"), "Thomas": ("Tom", "Tommy"),
    "Joseph": ("Joe", "Joey"), "Terence": ("Terry", "Tel"), "Derek": ("Del",), "Reginald": ("Reg", "Reggie"),
    "Leonard": ("Len", "Lenny"), "Gerald": ("Gerry",), "Norman": ("Norm", "Nobby"), "Douglas": ("Doug", "Dougie"),
    "Stanley": ("Stan",), "Bernard": ("Bernie",), "Raymond": ("Ray",), "Ronald": ("Ron", "Ronnie"),
    "Donald": ("Don", "Donny"), "Harold": ("Harry", "Hal"), "Henry": ("Harry", "Hank"),
    "Charles": ("Charlie", "Chas", "Chuck"), "Nicholas": ("Nick", "Nicky"), "Christopher": ("Chris", "Kit"),
    "Lawrence": ("Larry", "Laurie"), "Timothy": ("Tim", "Timmy"), "Andrew": ("Andy", "Drew"), "Peter": ("Pete",),
    "Stephen": ("Steve",), "Francis": ("Frank",), "Daniel": ("Danny", "Dan"), "Samuel": ("Sam", "Sammy"),
    "Benjamin": ("Ben", "Benny"), "Arthur": ("Art", "Artie"), "Walter": ("Wally", "Walt"), "Wilfred": ("Wilf",),
    "Alfred": ("Alf", "Alfie"), "Patrick": ("Paddy", "Pat"), "Vincent": ("Vince", "Vinny"), "Clifford": ("Cliff",),
    "Geoffrey": ("Geoff",), "Malcolm": ("Mal",), "Desmond": ("Des",), "Philip": ("Phil",), "Eugene": ("Gene",),
}
DIMINUTIVES: dict[str, tuple[str, ...]] = FEMALE_DIMINUTIVES | MALE_DIMINUTIVES
_COMMON_YEAR = date(2025, 1, 1)  # no 29 February
LAST_BIRTH_YEAR = 2009  # a slip of the year's digits never makes a birth date in the future
FEMALE_FORMAL = tuple(FEMALE_DIMINUTIVES)
MALE_FORMAL = tuple(MALE_DIMINUTIVES)


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
    """Makes distinct people. Two ordinary people never share a date of birth (or one with two digits swapped)
    and a family-name initial, so no accidental pair looks like one person registered twice; the pairs that
    should look so are made on purpose."""

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
            # nor one a typist's slip away (the day's digits swapped) from another's with the same initial
            if all((d, family[:1]) not in self._birth_keys for d in (born, day_swapped(born)) if d is not None):
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
    return a[:1] != b[:1] and b not in DIMINUTIVES.get(a, ()) and a not in DIMINUTIVES.get(b, ())


def cut_short(name: str) -> str:
    """The name's first syllable, as people shorten it (Gwendoline -> Gwen, Valerie -> Val, Andrew -> And): up to
    the first consonant after the first vowel, at least three letters; the name itself if nothing is shorter."""
    vowels = "aeiouy"
    lower = name.lower()
    i = 0
    while i < len(lower) and (lower[i] not in vowels or (i == 0 and lower[i] == "y")):
        i += 1  # the opening consonants
    while i < len(lower) and lower[i] in vowels:
        i += 1  # the first vowels
    end = max(i + 1, 3)
    return name[:end] if end < len(name) - 1 else name


def day_swapped(born: date) -> date | None:
    """The day's two digits swapped (12 -> 21, 3 -> 30), if that is another real date."""
    tens, units = divmod(born.day, 10)
    if tens == units:
        return None
    try:
        return born.replace(day=units * 10 + tens)
    except ValueError:
        return None


def year_swapped(born: date) -> date | None:
    """The year's last two digits swapped (1947 -> 1974), if they differ and the year is not yet to come."""
    decade, year = divmod(born.year % 100, 10)
    if decade == year:
        return None
    moved = born.year - born.year % 100 + year * 10 + decade
    return born.replace(year=moved) if moved <= LAST_BIRTH_YEAR else None


def digit_swaps(born: date) -> list[date]:
    """The dates a typist makes of this one by swapping two digits, in the day or in the year (never day and
    month exchanged: that is `transposed`)."""
    return [d for d in (day_swapped(born), year_swapped(born)) if d is not None]
