"""The identity domain.

Importing it registers the merge routing hook (:mod:`backend.identity.routing`), so any
process that loads the models (``backend.models`` imports this package) routes writes
for merged patients to their survivor.
"""

from backend.identity import routing as routing
