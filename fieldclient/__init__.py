"""Qt-free core of the grid field client: vault, encrypted store, blobs, audit, CLI."""

__version__ = "0.1.0"
APP_NAME = "gridfield"
