"""personio-sync: keeps awork absences in line with Personio."""

__version__ = "0.1.0"
