"""Tap-to-write helpers for the visit and event forms: quick phrases (the centre's
or the product's, :mod:`fieldclient.fieldwork.phrases`) and the household's people.

Each is a grid of big buttons (:class:`ui.widgets.patrol.ButtonGrid`) that calls
``on_pick(text)``; the form decides where the text goes. Typing with gloves is the
slowest part of a visit, so the common sentences are one tap away.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from PySide6.QtWidgets import QWidget

from ui.widgets.basic import button
from ui.widgets.patrol import ButtonGrid


class PhraseButtons(ButtonGrid):
    """One big button per phrase; a tap calls ``on_pick(phrase)``."""

    def __init__(self, on_pick: Callable[[str], None], columns: tuple[int, ...] = (3, 2, 1),
                 name: str = "phraseButtons", parent: QWidget | None = None) -> None:
        super().__init__(columns, parent)
        self.setObjectName(name)
        self.on_pick = on_pick
        self.phrases: list[str] = []

    def set_phrases(self, phrases: Sequence[str], labels: Sequence[str] | None = None) -> None:
        """``labels[i]`` is shown for ``phrases[i]`` (default: the phrase itself)."""
        self.clear()
        self.phrases = list(phrases)
        shown = list(labels) if labels is not None else self.phrases
        for index, (phrase, text) in enumerate(zip(self.phrases, shown, strict=True)):
            btn = button("phrase", f"phrase_{index}")
            btn.setText(text.replace("&", "&&"))  # an & shown, never a mnemonic
            btn.setAccessibleName(text)
            btn.clicked.connect(lambda _=False, p=phrase: self.on_pick(p))
            self.add_button(btn)
        self.setVisible(bool(self.phrases))
