"""Reference central server (FastAPI)."""
