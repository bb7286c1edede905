"""HTTP-level protections of ``central serve`` that sit in front of the API: load
shedding (``shedding``). Knows nothing of the database or the sync protocol."""
