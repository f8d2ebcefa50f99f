"""Access strategies: how a grant is made and taken away at a target system."""
