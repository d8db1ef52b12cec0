"""A realistic sample population for the demo, benchmarks and tests: people in tech
with goals, passions, skills, languages and time zones, in a few programmes.

Deterministic for a seed, so a run can be compared with the next.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from shared.events import ProfileUpserted, Role

# Topics as people write them: mixed case, abbreviations, plurals. Normalising
# these is the matcher's job, so the sample deliberately does not.
TOPICS: dict[str, list[str]] = {
    "ml": ["Machine Learning", "ML", "deep learning", "MLOps", "LLMs"],
    "data": ["data engineering", "SQL", "Data Pipelines", "analytics"],
    "web": ["React", "frontend", "TypeScript", "web performance", "CSS"],
    "backend": ["backend", "APIs", "distributed systems", "system design", "Go"],
    "infra": ["Kubernetes", "k8s", "DevOps", "SRE", "observability", "cloud"],
    "rust": ["Rust", "embedded Rust", "systems programming", "embedded systems"],
    "security": ["security", "AppSec", "threat modelling", "cryptography"],
    "mobile": ["iOS", "Android", "mobile development", "Kotlin", "Swift"],
    "career": ["career growth", "public speaking", "leadership", "promotion to senior",
               "engineering management", "negotiation"],
}  # fmt: skip
PASSIONS = [
    "open source", "climbing", "game dev", "music production", "chess", "photography",
    "teaching", "hackathons", "mechanical keyboards", "running", "sci-fi", "accessibility",
    "climate tech", "board games", "3D printing", "cooking",
]  # fmt: skip
TIMEZONES = [
    "Europe/London", "Europe/Berlin", "Europe/Madrid", "Europe/Warsaw", "America/New_York",
    "America/Chicago", "America/Los_Angeles", "America/Sao_Paulo", "Asia/Kolkata",
    "Asia/Singapore", "Africa/Lagos", "Australia/Sydney",
]  # fmt: skip
LANGUAGES_BY_ZONE = {
    "Europe/London": ["en"], "Europe/Berlin": ["de", "en"], "Europe/Madrid": ["es", "en"],
    "Europe/Warsaw": ["pl", "en"], "America/New_York": ["en"], "America/Chicago": ["en", "es"],
    "America/Los_Angeles": ["en"], "America/Sao_Paulo": ["pt", "en"],
    "Asia/Kolkata": ["en", "hi"], "Asia/Singapore": ["en", "zh"], "Africa/Lagos": ["en"],
    "Australia/Sydney": ["en"],
}  # fmt: skip
PROGRAMMES = ["default", "women-in-tech", "open-source-fellows"]


@dataclass(frozen=True)
class Population:
    mentors: list[ProfileUpserted]
    mentees: list[ProfileUpserted]

    @property
    def everyone(self) -> list[ProfileUpserted]:
        return self.mentors + self.mentees


def _person(rng: random.Random, person_id: str, role: Role) -> ProfileUpserted:
    zone = rng.choice(TIMEZONES)
    areas = rng.sample(sorted(TOPICS), k=rng.randint(1, 2))
    focus = [t for a in areas for t in TOPICS[a]]
    career = TOPICS["career"]
    if role == "mentor":
        skills = rng.sample(focus, k=min(len(focus), rng.randint(3, 5))) + rng.sample(career, 1)
        goals = rng.sample(career, k=rng.randint(0, 1))
    else:
        skills = rng.sample(focus, k=rng.randint(0, 2))
        goals = rng.sample(focus, k=rng.randint(1, 2)) + rng.sample(career, k=rng.randint(0, 1))
    programmes = ["default"]
    if rng.random() < 0.3:
        programmes.append(rng.choice(PROGRAMMES[1:]))
    return ProfileUpserted(
        person_id=person_id,
        roles=[role],
        programmes=programmes,
        goals=sorted(set(goals)),
        passions=rng.sample(PASSIONS, k=rng.randint(1, 3)),
        skills=sorted(set(skills)),
        languages=LANGUAGES_BY_ZONE[zone],
        timezone=zone,
        capacity=rng.choice([1, 2, 2, 3]) if role == "mentor" else 0,
        open_to_introductions=rng.random() < 0.9,
        paused=False,
        revision=1,
    )


def population(mentees: int, mentors: int, seed: int = 7) -> Population:
    rng = random.Random(seed)
    return Population(
        mentors=[_person(rng, f"mentor-{i:04d}", "mentor") for i in range(mentors)],
        mentees=[_person(rng, f"mentee-{i:04d}", "mentee") for i in range(mentees)],
    )
