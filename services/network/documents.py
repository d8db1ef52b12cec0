"""What the network keeps, as documents: one shape for the Mongo store
(`repository.MongoNetworkStore`) and the in-memory one (`memory_store`), and how
a stored document reads as a person or a tie."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from services.network.explanation import Explanation
from services.network.people import Person, tag_set
from services.network.ties import Tie, TieKind, make_tie, pair_key
from shared.documents import Document as Document  # re-exported to the network's modules
from shared.events import IntroductionSuggested, OfferedIntroduction, derived_id


def load_key(candidate: str, week: str) -> str:
    """The id of the document counting a candidate's suggestions in one ISO week."""
    return f"{candidate}|{week}"


def introduction_id(a: str, b: str) -> str:
    """One introduction per pair, ever: the id is the pair's."""
    return derived_id("introduction", pair_key(a, b))


def person_to_doc(person: Person, revision: int, programmes: list[str]) -> Document:
    return {
        "_id": person.id,
        "goals": sorted(person.goals),
        "passions": sorted(person.passions),
        "skills": sorted(person.skills),
        "open": person.open_to_introductions,
        "paused": person.paused,
        "programmes": programmes,
        "revision": revision,
    }


def person_from_doc(doc: Document) -> Person:
    return Person(
        id=doc["_id"],
        goals=tag_set(doc.get("goals", ())),
        passions=tag_set(doc.get("passions", ())),
        skills=tag_set(doc.get("skills", ())),
        open_to_introductions=bool(doc.get("open", False)),
        paused=bool(doc.get("paused", False)),
        programme=(doc.get("programmes") or ["default"])[0],
    )


def tie_from_doc(doc: Document) -> Tie | None:
    """The tie a stored pair document describes; None when nothing ties them."""
    kinds = []
    if doc.get("active"):
        kinds.append(TieKind.MENTORSHIP)
    if doc.get("ended"):
        kinds.append(TieKind.ALUMNI)
    if doc.get("introduced"):
        kinds.append(TieKind.INTRODUCTION)
    weight = 0.0
    followers = set()
    for connection in (doc.get("connections") or {}).values():
        if connection.get("removed"):
            continue
        if connection.get("weight") is not None:
            weight = max(weight, float(connection["weight"]))
        elif connection["kind"] == TieKind.FOLLOWS:
            followers.add(connection["from"])
        else:
            kinds.append(TieKind(connection["kind"]))
    if followers:
        kinds.append(TieKind.MUTUAL_FOLLOWS if len(followers) == 2 else TieKind.FOLLOWS)
    if not kinds and not weight:
        return None
    return make_tie(kinds, boost=float(doc.get("boost", 0.0)), weight=weight)


def introduction_doc(
    data: IntroductionSuggested, explanation: Explanation, at: datetime, week: str
) -> Document:
    return {
        "_id": data.introduction_id,
        "pair": pair_key(data.person_id, data.candidate_id),
        "person": data.person_id,
        "candidate": data.candidate_id,
        "introducer": data.introducer_id,
        "score": data.score,
        "reasons": list(explanation.reasons()),
        "explanation": explanation.to_doc(),
        "mentions": explanation.mentions(),
        "suggested_at": at,
        "week": week,
        "status": "suggested",
        "accepted_by": [],
    }


def offer_doc(offer: OfferedIntroduction, explanation: Explanation, at: datetime) -> Document:
    return {
        "_id": offer.introduction_id,
        "pair": pair_key(explanation.person, explanation.candidate),
        "person": explanation.person,
        "candidate": explanation.candidate,
        "introducer": offer.introducer_id,
        "score": offer.score,
        "reasons": list(explanation.reasons()),
        "explanation": explanation.to_doc(),
        "mentions": explanation.mentions(),
        "offered_at": at,
        "accepted_by": [],
        # Wall-clock time, for the expiry index (event time may be far in the past).
        "stored_at": datetime.now(UTC),
    }


def without_person(intro: Document, person_id: str) -> Document:
    """The fields of an introduction that change when `person_id`, neither of its
    two people, is erased."""
    changed: Document = {}
    if intro.get("introducer") == person_id:
        changed["introducer"] = None
    if "explanation" in intro:
        explanation = Explanation.from_doc(
            intro["person"], intro["candidate"], intro["explanation"]
        ).without(person_id)
        changed.update(
            reasons=list(explanation.reasons()),
            explanation=explanation.to_doc(),
            mentions=explanation.mentions(),
        )
    else:  # stored before explanations were: drop the lines that name them
        changed["reasons"] = [r for r in intro.get("reasons", []) if person_id not in r]
    return changed


@dataclass(frozen=True)
class StoredTie:
    a: str
    b: str
    tie: Tie | None


def stored_tie(doc: Document) -> StoredTie:
    return StoredTie(doc["a"], doc["b"], tie_from_doc(doc))
