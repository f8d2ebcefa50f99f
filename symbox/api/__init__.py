"""The Events API: Starlette routes over the run service."""
