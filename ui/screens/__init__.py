"""Whole-window screens outside the main view: first-run set-up, unlock, and the PIN change.

Like every ``ui`` package it may import the core (``fieldclient``, ``sync``), Qt, and the
shared ``ui`` modules (widgets, dialogs, run_task); the controller in ``ui.controller``
decides which screen shows.
"""
