"""``python -m sd4match_gui``: the same as ``sd4match-gui``."""

from .app import main

raise SystemExit(main())
