"""Integreat Chat: the cloud-agnostic core. Nothing here imports Chalice or Lambda."""
