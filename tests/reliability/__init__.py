"""The reliability suite: the paths, fault/input/sink tables, leak check and figures it is built on."""
