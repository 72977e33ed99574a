"""Tests of ``r1v4 report`` and ``render_html``; what they share is in ``support``."""
