"""closer: the composition root (settings, application factory, command line)."""

from core import aiogram_models

# First thing of every closer process (`closer run`, the demo, the app factory): aiogram is imported after this.
aiogram_models.defer()
