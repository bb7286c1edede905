"""The encrypted database and the unlocked device: SQLCipher through sqlcipher3 and
sqlite-utils (with its exception bridge), numbered schema migrations, and the
:class:`~fieldclient.storage.session.Session` that holds the DEK, the database, the blob
store and the audit log open together.

May import :mod:`fieldclient.security` and the foundation modules at the package root;
never the field-work domain, photos, the CLI or ``sync``.
"""
