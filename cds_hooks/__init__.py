"""The CPOC CDS Hooks service (Flask)."""
