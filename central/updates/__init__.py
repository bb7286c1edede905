"""Release updates for the devices: the centre's signed TUF repository
(:mod:`central.updates.repository`), managed by ``central release`` and served read-only
by ``central serve`` under ``/api/v1/updates``. Shares only ``sync.protocol`` with the
rest (the release rules a device chooses by, ``sync.protocol.releases``)."""
