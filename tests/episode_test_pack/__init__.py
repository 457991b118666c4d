"""A small episode model outside the product, built only from the shared episode machinery
(engine/episodes.py, packs/episode_lines.py): six-month episodes triggered by any practice
anti-cancer administration or fill, one EPI1 line of 100.00 per episode month. Tests that need
an episode pack before (or apart from) OCM and EOM use it:
``[models] packs = {episodic = "episode_test_pack.pack"}``.
"""
