"""The Enhancing Oncology Model pack (value-and-models §15.2)."""
