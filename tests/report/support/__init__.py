"""What the report tests share: the runs they render (``runs``) and headless Chromium over the
DevTools protocol (``cdp``)."""
