"""HTTP frontend (FastAPI)."""
