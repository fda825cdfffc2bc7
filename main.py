"""Start the SD4Match desktop app from a source checkout: ``python main.py [PATHS] [--model M] [--prompts P]``
takes the same arguments as ``sd4match-gui`` (``--help`` lists them)."""

from sd4match_gui.app import main

if __name__ == "__main__":
    raise SystemExit(main())
