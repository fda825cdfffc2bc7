"""Start the SD4Match desktop app from a source checkout: ``python main.py [--demo]``."""

from sd4match_gui.app import main

if __name__ == "__main__":
    raise SystemExit(main())
