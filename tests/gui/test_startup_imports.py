"""The app's window can appear before torch loads: torch comes with the first model, on the engine thread."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import REPO


def test_importing_the_app_loads_no_torch():
    code = "import sys, sd4match_gui.app; print(sorted({m.split('.')[0] for m in sys.modules} & {'torch'}))"
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
