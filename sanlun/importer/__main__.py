import sys

from sanlun.importer.cli import main

sys.exit(main())
