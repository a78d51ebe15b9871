import sys

from runtime.ingest.server import main

sys.exit(main())
