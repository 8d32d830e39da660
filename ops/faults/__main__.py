"""`python -m ops.faults FAULT [options]`: run one fault script (see ops/faults/__init__.py)."""

import sys

from ops.faults import main

sys.exit(main())
