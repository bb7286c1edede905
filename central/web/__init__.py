"""HTTP-level layers of ``central serve`` around the API: load shedding (``shedding``)
and the pull's own route below FastAPI's routing (``pullroute``, given its handler by
``central.app``). Know nothing of the database or the sync protocol."""
