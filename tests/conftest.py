"""Shared fixtures: the local R1V4 server (``r1v4_server``, ``no_native_tools_server``)."""

pytest_plugins = ["r1v4.testing.pytest_plugin"]
