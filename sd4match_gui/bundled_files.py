"""Files in the repository's ``resources/`` folder: the demo pair and the application icon.

They are found beside the package, so a source checkout or an editable install (the README's)
has them; a plain wheel carries the code only.
"""

from __future__ import annotations

from pathlib import Path

RESOURCES = Path(__file__).resolve().parents[1] / "resources"
DEMO_PAIR = (RESOURCES / "demo" / "astronaut.jpg", RESOURCES / "demo" / "grace_hopper.jpg")
APP_ICON = RESOURCES / "icons" / "sd4match.svg"
