"""Keys and secrets: the vault (DEK wrapped by the PIN and the device secret), the OS
keystore, the PIN policy, the cryptographic primitives, encrypted blob files and the
hash-chained audit log.

The lowest layer with :mod:`fieldclient.geo`: it may import only the foundation modules at
the package root (``fieldclient.errors``, ``i18n``, ``ids``, ``fsutil``, ``paths`` ...),
never storage, the field-work domain, photos or the CLI.
"""
