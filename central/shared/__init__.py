"""State the processes of ``central serve --workers N`` share through the database
(never a process's own memory, or N processes would each keep their own): first-pull
snapshots (:mod:`central.shared.snapshots`) and the rate limits' token buckets
(:mod:`central.shared.ratelimit`). Builds on ``central.db`` and the centre's feed
(``central.syncops``, ``central.reviews``); shares only ``sync.protocol`` with the device."""
