"""Offline validation of Dockerfile, docker-compose.yml and deploy/ (no cluster, no Docker)."""
