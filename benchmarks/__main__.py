import sys

from benchmarks._main import main

sys.exit(main())
