"""One module per provider; each is imported only when its client is made."""
