"""The reference central server (FastAPI on uvicorn; SQLite, or PostgreSQL given a URL):
the sync API, enrollment, the closed loop of events, tasks, settings and the operators'
command line.

It shares only the wire format (:mod:`sync.protocol` and its schemas) with the
device: it never imports ``fieldclient``, the rest of ``sync``, ``ui`` or Qt.
"""
