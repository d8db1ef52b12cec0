"""How a service remembers that a person (or something of theirs) was erased
without keeping their id: a keyed one-way hash (HMAC-SHA256) under a secret that
only MentorMesh's services hold.

A plain hash of an id can be reversed by hashing every candidate id; a keyed hash
cannot without the key. Every service uses this one function, so a tombstone means
the same thing everywhere.
"""

from __future__ import annotations

import hashlib
import hmac
import logging

from pydantic import SecretStr

log = logging.getLogger(__name__)

# The default key is public (it is in this file): fine for the demo and tests, never
# for real people. `Settings.erasure_secret` must be set in production.
DEVELOPMENT_SECRET = "mentormesh-development-erasure-key"


class Pseudonyms:
    """Keyed one-way names for erased ids: `tombstone("person", id)`."""

    def __init__(self, secret: SecretStr) -> None:
        self._key = secret.get_secret_value().encode()
        if secret.get_secret_value() == DEVELOPMENT_SECRET:
            log.debug("erasure tombstones use the development key; set MENTORMESH_ERASURE_SECRET")

    def tombstone(self, kind: str, ident: str) -> str:
        """A stable, irreversible key for `ident` of `kind` (person, mentorship, ...)."""
        message = f"{kind}\x1f{ident}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()
