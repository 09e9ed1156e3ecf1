"""tests/applications: the Keras oracle (oracle.py) is imported by name from every test file here."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
