"""Reusable controls: labels and buttons with roles, the PIN pad and panel, the sync
indicator, the track view, the household list model, and the pieces of the event,
patrol and task screens (status chips, photo pickers, checklist item cards).

May import ``ui.platform``, plain messages (``ui.dialogs.message``), the shell modules at
the ``ui`` root and the core; never pages or screens.
"""
