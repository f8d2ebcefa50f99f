"""Hooks for the example flows: none yet, as symbox does not run customer hooks yet."""
