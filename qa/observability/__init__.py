"""Observability: logging with request ids and Prometheus metrics."""
