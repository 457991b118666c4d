"""The Oncology Care Model pack (value-and-models §15.1)."""
