"""Evidence photos: decode, resize, watermark, EXIF, hash, encrypt and record
(``pipeline``), the same pipeline for the app, the CLI and tests.

May import :mod:`fieldclient.storage`, :mod:`fieldclient.security`, :mod:`fieldclient.geo`
and the foundation modules; never the field-work domain (which attaches photos by id), the
CLI or ``sync``.
"""
