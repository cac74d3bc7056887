"""FHIR R4 in and out: read bundles and NDJSON, map them into the record, export it again.

``reader`` turns files and request bodies into batches (one Bundle or one NDJSON file,
each imported all or nothing), ``validation`` checks them with the ``fhir.resources``
R4B models, ``mapping/`` holds one module per resource family, ``importer`` upserts,
``exporter`` renders a patient's record through the access layer, ``routes`` and ``cli``
are the two transports.
"""
