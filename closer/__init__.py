"""closer: the composition root (settings, application factory, command line)."""
