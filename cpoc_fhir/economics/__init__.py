"""Economics: CPOC against fee-for-service for one practice and its payer (§14.1, §14.2).

``claims`` reads FFS charges (ChargeItem, Claim, CARIN Blue Button ExplanationOfBenefit),
``fee_schedule`` prices the items that carry no amount, ``model`` compares the year's CPOC
lines with those charges, ``payer_side`` adds the payer's total spending.
"""
