"""FHIR Bulk Data Access (IG 2.0) ``$export`` as a source of patient records (issue 16 item 2).

``export.py`` speaks the asynchronous protocol (kick-off, status polling, manifest, download,
cancel); ``mirror.py`` keeps the downloaded NDJSON as a local folder and merges incremental
(``_since``) exports into it; ``paged.py`` writes the same folder from paged searches when a
server has no ``$export``; ``source.py`` chooses between them. The folder is what every engine
reads (``fhir.read.open_source``).
https://hl7.org/fhir/uv/bulkdata/export.html
"""
