"""JSON API views under /api/v1: each turns a request into one call of `sales` and the result into JSON."""
