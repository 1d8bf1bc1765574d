"""Payment providers' webhooks (SPEC §5.1, §5.5, §8): verify, translate into a PaymentNotice, apply once."""
