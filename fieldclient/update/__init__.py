"""Release updates: staging, installing, rolling back.

``install`` (stdlib only, Qt-free): the install root's layout, versions side by side,
applying a staged release, trying it and rolling back; ``launcher``: the small program
at the install root that starts the current version and is never replaced by an update.

May import the layers below the CLI (``fieldwork``, ``storage``, ``security``...) and the
foundation; ``install`` and ``launcher`` import only the foundation at run time, so the
launcher builds as a small executable of its own.
"""
