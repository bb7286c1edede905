"""The PySide6 user interface: the only package that imports Qt.

At the root: the application shell (``app``, ``controller``, ``mainwindow``, ``style``,
``i18n``, the ``run_task`` helper in ``tasks``, error display) and the controllers that
drive the core for the GUI (sync, the running patrol's GPS). Below: ``screens`` (set-up,
unlock, PIN change), ``pages`` (the main window's pages), ``dialogs``, ``widgets`` and
``platform`` (hardware adapters). ``ui`` may import ``fieldclient`` and ``sync``; nothing
imports ``ui``.
"""
