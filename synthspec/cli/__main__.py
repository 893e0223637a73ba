"""`python -m synthspec.cli ...` runs `synth ...`."""

import sys

from synthspec.cli import main

sys.exit(main())
