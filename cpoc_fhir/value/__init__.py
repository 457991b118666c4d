"""The value-based adjustment (value-and-models §12): measures, ratings, the yearly adjustment.

``model`` holds the shapes every measure shares (a patient's year, a measure's tally,
benchmarks, ratings); ``valuesets`` the code lists the measures read (data files with their
sources, ``knowledge/data/value-sets/``); ``settings`` the §12 *(config)* items.
"""
