"""The subscriber list and everything that changes it.

It depends on neither `newsletter` nor `scheduler`.
"""
