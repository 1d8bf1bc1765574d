"""What every package shares: settings, the i18n catalogues, and the app keys of shared resources."""
