"""The task catalog: each worker publishes its tasks (queue, options, argument and result
schemas) to a KV bucket; producers route and check by name from it; ``jetjobs tasks`` lists
it and ``jetjobs schema`` writes it as an AsyncAPI 3 document.

Example::

    entries = await app.catalog.entries()          # what every service's workers published
    doc = app.asyncapi(entries)                    # AsyncAPI 3.0.0, as a dict
"""

from ._asyncapi import ASYNCAPI_VERSION, document
from ._build import entry_for
from ._store import Catalog, catalog_key

__all__ = ["ASYNCAPI_VERSION", "Catalog", "catalog_key", "document", "entry_for"]
