"""A realistic sample population for the demo, benchmarks and tests: people in tech
with goals, passions, skills, languages and time zones, in a few programmes, and
the platform's own graph of who knows whom (colleagues, meetup groups, follows).

Deterministic for a seed, so a run can be compared with the next.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from shared.events import ConnectionAdded, ConnectionKind, ProfileUpserted, Role

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


# --- the platform's own social graph -----------------------------------------

COMPANIES = 30  # a few dozen employers, of very different sizes
MEETUP_GROUPS = ("Rustaceans", "Data Guild", "Frontend Friday", "SRE Circle",
                 "Women Who Code", "Career Clinic")  # fmt: skip


@dataclass(frozen=True)
class PlatformGraph:
    """Who knows whom before any mentoring starts: colleagues at the same company,
    members of the same meetup group, and follows with a heavy tail (a few people
    followed by many)."""

    company: dict[str, str]
    groups: dict[str, frozenset[str]]
    connections: list[ConnectionAdded]

    def same_company(self, a: str, b: str) -> bool:
        return self.company.get(a) == self.company.get(b)

    def share_a_group(self, a: str, b: str) -> bool:
        return bool(self.groups.get(a, frozenset()) & self.groups.get(b, frozenset()))


def platform_graph(people: Population, since: datetime, seed: int = 7) -> PlatformGraph:
    rng = random.Random(seed)
    ids = [p.person_id for p in people.everyone]
    # Company sizes follow a Zipf-like law: a couple of big employers, many small ones.
    weights = [1.0 / (rank + 1) for rank in range(COMPANIES)]
    company = {pid: f"company-{rng.choices(range(COMPANIES), weights)[0]:02d}" for pid in ids}
    groups = {
        pid: frozenset(rng.sample(MEETUP_GROUPS, k=rng.choices([0, 1, 2], [0.45, 0.4, 0.15])[0]))
        for pid in ids
    }
    pairs: dict[tuple[str, str, ConnectionKind], None] = {}

    def link(a: str, b: str, kind: ConnectionKind) -> None:
        if a != b:
            key = (a, b, kind) if kind == "follows" else (min(a, b), max(a, b), kind)
            pairs.setdefault(key, None)

    staff: dict[str, list[str]] = {}
    for pid in ids:
        staff.setdefault(company[pid], []).append(pid)
    for pid in ids:  # each knows a few colleagues
        colleagues = [c for c in staff[company[pid]] if c != pid]
        for other in rng.sample(colleagues, k=min(len(colleagues), rng.randint(1, 3))):
            link(pid, other, "colleague")
    members: dict[str, list[str]] = {}
    for pid in ids:
        for group in groups[pid]:
            members.setdefault(group, []).append(pid)
    for pid in ids:  # and a few people from each of their groups
        for group in sorted(groups[pid]):
            others = [m for m in members[group] if m != pid]
            for other in rng.sample(others, k=min(len(others), rng.randint(1, 3))):
                link(pid, other, "same_group")
    # Follows: most follow a few people, some many; mentors draw more followers, and
    # the more followers someone has, the more they get (preferential attachment).
    popularity = [3.0 if pid.startswith("mentor") else 1.0 for pid in ids]
    for pid in ids:
        for _ in range(min(25, int(rng.paretovariate(1.5)))):
            target = rng.choices(range(len(ids)), popularity)[0]
            if ids[target] != pid:
                link(pid, ids[target], "follows")
                popularity[target] += 1.0
    connections = [
        ConnectionAdded(connection_id=f"{kind}:{a}:{b}", person_a=a, person_b=b,
                        kind=kind, since=since - timedelta(days=rng.randint(30, 900)))
        for a, b, kind in pairs
    ]  # fmt: skip
    return PlatformGraph(company, groups, connections)
