"""Tests of ``r1v4 batch``; what they share is in ``support``."""
