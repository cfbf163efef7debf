"""`python -m personio_sync.cli`, as the tests and the demo start the command."""

import sys

from personio_sync.cli.main import main

sys.exit(main())
