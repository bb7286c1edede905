"""Release updates: checking, fetching, staging, installing, rolling back.

``client`` checks the centre's signed release repository (TUF, python-tuf's ngclient)
during sync, fetches the chosen archive in resumable pieces within the link's budget,
verifies it against the signed targets metadata and stages it under
``<data_dir>/updates/staged/``; ``policy`` says whether an update may be applied now
(never during a patrol or with unsynced work). ``install`` (stdlib only): the install
root's layout, versions side by side, applying a staged release, trying it and rolling
back; ``launcher``: the small program at the install root that starts the current
version and is never replaced by an update.

Qt-free; may import the field-work domain and below, and the shared release rules
(``sync.protocol.releases``), never ``sync`` itself: the sync engine hands it the HTTP
session to use. ``install`` and ``launcher`` import only the foundation (and the launcher
the stdlib-only ``fieldclient.security.hardening``) at run time,
so the launcher builds as a small executable of its own.
"""
