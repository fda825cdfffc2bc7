"""The engine never imports Qt (the app depends on the engine, never the reverse)."""

from __future__ import annotations

import subprocess
import sys


def test_engine_imports_without_qt():
    code = (
        "import sys, engine, engine.cli, engine.matcher, engine.render, engine.export;"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('PySide6', 'pyqtgraph', 'sd4match_gui')];"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
