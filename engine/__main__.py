"""``python -m engine`` is the same as ``sd4match``."""

from .cli import main

raise SystemExit(main())
