"""Pictures of a patient's record and lines (pure: strings, no I/O)."""
