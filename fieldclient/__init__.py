"""Qt-free core of the grid field client, in layers (each subpackage says what it may
import; ``tests/test_layers.py`` checks it):

- the foundation, plain modules here: errors, i18n, ids, fsutil, devicetime, paths,
  settings; they import nothing of ours above them;
- ``security`` (vault, keystore, crypto, blobs, audit) and ``geo`` (positions, NMEA, GPX);
- ``storage`` (SQLCipher store, migrations, the unlocked session);
- ``photos`` (the evidence photo pipeline);
- ``fieldwork`` (the field-work domain);
- ``cli`` (the ``fieldclient`` command).

Nothing here imports Qt, ``sync``, ``central`` or ``ui``.
"""

__version__ = "0.1.0"
APP_NAME = "gridfield"
