"""Tests of r1v4.testing, the local R1V4 API server, talked to with plain httpx."""
