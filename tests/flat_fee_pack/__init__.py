"""A payment-model pack that lives outside the product: a flat fee per calendar month.

It shows that a pack needs nothing outside its folder and one registry entry (here the
``[models] packs`` setting, ``{"flat" = "flat_fee_pack.pack"}``). Tests use it wherever a
second pack is needed. Its rules: from the first day a practice anti-cancer drug is given or
supplied, one FLAT1 line per calendar month that has begun by as-of, at the fee of its data
file (``data.toml``), none for a month that starts after death.
"""
