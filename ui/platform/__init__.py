"""Adapters to the tablet's hardware and system: positioning (system, serial NMEA
receiver, NMEA file), the camera, and reading an enrollment QR image.

They turn a device into plain values and signals for pages and dialogs; they import the
core (``fieldclient.geo`` for fixes) and Qt, nothing else of ``ui`` but ``ui.tasks`` and
``ui.widgets``.
"""
