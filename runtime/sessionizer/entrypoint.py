"""The application zip's main.py (``kinesis.analytics.flink.run.options`` ``python``).

Managed Flink runs this file from the root of the unpacked zip. The job's code is under
``python/``, which the run options also name as ``pyFiles`` so the Python workers see
it; the client that builds the job graph needs it on its path here as well.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "python"))

from runtime.sessionizer.job import main  # only importable once the path above is set

if __name__ == "__main__":
    main()
