"""`python -m polaris_core` runs the same CLI as the `polaris` command."""
import sys

from polaris_core.cli import main

if __name__ == "__main__":
    sys.exit(main())
