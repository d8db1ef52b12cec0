"""The one name for a stored document, shared by every service."""

from typing import Any

# A MongoDB document as the services store and read it: a BSON object decoded to a dict.
Document = dict[str, Any]
