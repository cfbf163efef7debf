"""personio-sync: keeps awork absences in line with Personio.

The version is the installed distribution's, read from its metadata: pyproject.toml is
its one source, for the wheel, the image tag and the chart alike (docs/rules.md, REL-1).
"""

from importlib.metadata import version

__version__ = version("personio-sync")
