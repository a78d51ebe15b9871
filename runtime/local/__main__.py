import sys

from runtime.local.pipeline import main

sys.exit(main())
