"""Dialogs, each opened with ``open()`` so nothing blocks the app: plain messages, and the
forms of events, households, patrols, tasks and visits.

May import ``ui.widgets``, ``ui.platform``, the shell modules at the ``ui`` root and the
core; pages open dialogs, never the reverse.
"""
