"""The CPOC pack: ASCO's Consolidated Payments for Oncology Care (proposal, May 2014;
cpoc-rules §1–§11, value-and-models §12–§14). Its rules, codes and payer schedule live here."""
