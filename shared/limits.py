"""The contract's size limits: what a message may hold at most.

They bound the work one message can cause (a consumer parses, stores and indexes
what it accepts), and they are published: the JSON Schemas carry them as
`maxLength`/`maxItems`, `docs/limits.md` lists them, and a message over any of them
is dead-lettered with a reason that names the limit.
"""

from __future__ import annotations

from typing import Final

# Bytes of one Kafka record value (structured mode: the whole CloudEvent; binary
# mode: the data). Kafka's own default is about 1 MB; a valid event is a few KB.
MAX_MESSAGE_BYTES: Final = 256 * 1024
# Arrays and objects nested inside one another, counting the envelope as 1.
MAX_JSON_DEPTH: Final = 32

# Characters of one string field.
MAX_ID_LENGTH: Final = 200  # ids: person, match, mentorship, session, event
MAX_TAG_LENGTH: Final = 200  # a goal, passion or skill as the person wrote it
MAX_LANGUAGE_LENGTH: Final = 64  # a BCP 47 tag or a language name
MAX_TIMEZONE_LENGTH: Final = 64  # an IANA time zone name (the longest is 32)
MAX_ATTRIBUTE_LENGTH: Final = 1000  # CloudEvents `source`, `subject`, extensions
MAX_TYPE_LENGTH: Final = 200  # CloudEvents `type`
MAX_TEXT_LENGTH: Final = 2000  # free text: a reason, a nudge's message
MAX_NOTE_LENGTH: Final = 10_000  # a feedback's private note

# Items of one list (or entries of one map).
MAX_TAGS: Final = 50  # goals, passions, skills
MAX_LANGUAGES: Final = 20
MAX_PROGRAMMES: Final = 20
MAX_REASONS: Final = 50
MAX_COMPONENTS: Final = 20
MAX_OFFERED: Final = 50  # introductions asked for and offered in one request
MAX_MATCH_IDS: Final = 2000  # match ids listed in one cohort summary
