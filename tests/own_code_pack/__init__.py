"""A practice pack whose codes no public system defines (publishing tests)."""
