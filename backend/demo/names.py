"""Name and place pools for demo patients, drawn once from Faker's locale data.

Faker itself is too slow to call per row for 100,000 patients; its frequency-weighted
name lists, sampled with our own seeded generator, give the same realism at full speed.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from itertools import accumulate

from faker.providers.person.en_US import Provider as EnglishNames
from faker.providers.person.es_MX import Provider as SpanishNames


@dataclass(frozen=True)
class WeightedPool:
    values: tuple[str, ...]
    cumulative: tuple[float, ...]

    @classmethod
    def of(cls, weights: dict[str, float]) -> WeightedPool:
        return cls(tuple(weights), tuple(accumulate(weights.values())))

    def draw(self, rng: random.Random) -> str:
        return rng.choices(self.values, cum_weights=self.cumulative)[0]


FEMALE_GIVEN = WeightedPool.of(dict(EnglishNames.first_names_female))
MALE_GIVEN = WeightedPool.of(dict(EnglishNames.first_names_male))
FAMILY = WeightedPool.of(dict(EnglishNames.last_names))
SPANISH_FEMALE_GIVEN = tuple(sorted(set(SpanishNames.first_names_female)))
SPANISH_MALE_GIVEN = tuple(sorted(set(SpanishNames.first_names_male)))
SPANISH_FAMILY = tuple(sorted(set(SpanishNames.last_names)))

# Common nicknames: the demo's near-duplicates use them, as real registrations do.
NICKNAMES: dict[str, str] = {
    "William": "Bill",
    "Robert": "Bob",
    "Richard": "Rick",
    "James": "Jim",
    "Michael": "Mike",
    "Elizabeth": "Liz",
    "Margaret": "Peggy",
    "Katherine": "Kate",
    "Jennifer": "Jen",
    "Christopher": "Chris",
    "Joseph": "Joe",
    "Thomas": "Tom",
    "Daniel": "Dan",
    "Anthony": "Tony",
    "Patricia": "Patty",
    "Susan": "Sue",
    "Deborah": "Debbie",
    "Rebecca": "Becky",
    "Alexander": "Alex",
    "Samantha": "Sam",
    "Jessica": "Jess",
    "Nicholas": "Nick",
    "Matthew": "Matt",
    "Andrew": "Andy",
    "Stephanie": "Steph",
    "Victoria": "Vicky",
}

# (city, state, ZIP codes): real Massachusetts towns around the demo clinic's sites.
PLACES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("Boston", "MA", ("02108", "02110", "02115", "02116", "02118", "02127", "02130")),
    ("Cambridge", "MA", ("02138", "02139", "02140", "02141")),
    ("Somerville", "MA", ("02143", "02144", "02145")),
    ("Quincy", "MA", ("02169", "02170", "02171")),
    ("Brookline", "MA", ("02445", "02446")),
    ("Newton", "MA", ("02458", "02459", "02460")),
    ("Medford", "MA", ("02155",)),
    ("Malden", "MA", ("02148",)),
    ("Worcester", "MA", ("01602", "01603", "01604", "01605", "01609")),
    ("Framingham", "MA", ("01701", "01702")),
    ("Shrewsbury", "MA", ("01545",)),
    ("Lowell", "MA", ("01850", "01851", "01852")),
)
STREET_SUFFIXES = ("St", "Ave", "Rd", "Ln", "Way", "Ct", "Pl", "Ter", "Dr", "Blvd")
STREET_NAMES = (
    "Washington",
    "Beacon",
    "Tremont",
    "Boylston",
    "Commonwealth",
    "Massachusetts",
    "Main",
    "Elm",
    "Maple",
    "Chestnut",
    "Highland",
    "Pleasant",
    "Park",
    "Summer",
    "Winter",
    "Center",
    "School",
    "Church",
    "Prospect",
    "Spring",
    "Union",
    "Harvard",
    "Broadway",
    "Salem",
    "Franklin",
    "Hancock",
    "Lincoln",
    "Adams",
    "Cedar",
    "Oak",
    "Pine",
    "Walnut",
    "Water",
)
# 555-01XX is reserved for fiction; the wider 555 exchange keeps demo phones unreal enough
# while giving the patient matcher many distinct values.
AREA_CODES = ("617", "857", "781", "339", "508", "774", "978", "351")
EMAIL_DOMAINS = ("example.com", "example.org", "example.net")  # RFC 2606: never delivered
