"""Reports read from the store (``cpoc report …``): ``adherence`` — care pathway adherence
per pathway and overall, rated per the proposal's IV-A table."""
