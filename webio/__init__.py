"""HTTP plumbing shared by the inbox and the webhooks: JSON bodies in, error answers out."""
