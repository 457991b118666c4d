"""The Comprehensive Primary Care Plus pack (value-and-models §15.3): the care management fee."""
