"""The integration tier uses the shared real server (`comfy_server` in tests/conftest.py)."""
