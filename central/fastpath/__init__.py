"""The cheap paths of a signed request (issue 16): a pull with nothing new answered by
one indexed read (``noop``), and devices' last contacts kept in memory and written in
batches (``contacts``). May import ``central.db``, ``central.auditanchor``,
``central.syncops`` and ``sync.protocol``; nothing in ``central`` below the app imports
it."""
