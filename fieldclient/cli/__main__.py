"""``python -m fieldclient.cli``: the ``fieldclient`` command."""

import sys

from fieldclient.cli import main

sys.exit(main())
