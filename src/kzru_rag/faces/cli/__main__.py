"""`python -m kzru_rag.faces.cli`: the `kzru-rag` command."""

import sys

from kzru_rag.faces.cli import main

sys.exit(main())
