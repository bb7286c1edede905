"""The device's side of synchronisation (engine, transport, the ``fieldclient`` sync
commands) and the wire protocol shared with ``central``.

May import every layer of ``fieldclient``; ``fieldclient`` never imports ``sync``.
:mod:`sync.protocol` imports nothing of ours and :mod:`sync.schemas` only it, so
``central`` can share the two (the wire format) alone.
"""
