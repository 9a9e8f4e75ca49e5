import sys

from render.store import main

sys.exit(main())
