"""A practice pack with two codes (review-app correction tests)."""
