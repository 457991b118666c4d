"""The "none" pack: days no payment model holds (fee-for-service only)."""
