"""Enrolling laptops: expiring tokens, certificate requests made on the laptop, renewal."""
