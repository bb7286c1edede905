"""The device's side of synchronisation (engine, transport, the ``fieldclient`` sync
commands) and the wire protocol shared with ``central``.

May import every layer of ``fieldclient``; ``fieldclient`` never imports ``sync`` beyond
:mod:`sync.protocol` (the wire format and its schemas), which imports nothing else of ours,
so ``central`` can share it alone; the field-work domain (``fieldclient.fieldwork``)
uses its pure shared computations too (quota rules, the monthly review figures).
"""
