import sys

from visreason.cli import main

sys.exit(main())
