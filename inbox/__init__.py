"""The web inbox: JSON API, pages, live socket, auth (issue: Inbox)."""
