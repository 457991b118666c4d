"""The pure CPOC rules engine: clinical facts in, billing lines out (no I/O, no clock)."""
