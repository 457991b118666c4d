"""Where the files shipped inside the package are: the example patients.

Its own module so that both the ``cpoc`` command line and the CDS Hooks demo can find the
examples without importing each other.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path


def bundled_examples() -> Path:
    """The example patients shipped with the package (Appendix A and B cases and more)."""
    return Path(str(resources.files("cpoc_fhir") / "examples"))
