"""Show core errors (``fieldclient.errors.FieldClientError``) in the UI language."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QCoreApplication


def error_text(exc: BaseException) -> str:
    """The translated message of a core error; a generic message for anything else."""
    text = getattr(exc, "text", None)
    params: Any = getattr(exc, "params", None)
    if isinstance(text, str) and isinstance(params, dict):
        translated = QCoreApplication.translate("errors", text)
        try:
            return translated.format(**params)
        except (KeyError, IndexError, ValueError):
            return text.format(**params)
    return QCoreApplication.translate("errors", "发生了未知错误。")
