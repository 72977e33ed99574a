"""What the reliability tests share: the twelve call paths (``paths``), the tables they are
parametrised over (``matrix``), the leak check (``leakcheck``), extra servers (``servers``) and
the figures computed from the parametrisation (``figures``)."""
