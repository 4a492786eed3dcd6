import subprocess
import sys

from tests.live import ROOT


def test_importing_engine_loads_no_django():
    code = (
        "import sys, engine; "
        "loaded = sorted(m for m in sys.modules if m == 'django' or m.startswith(('django.', 'channels')));"
        "print(loaded)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
