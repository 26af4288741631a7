"""Integrations with training frameworks: labbook.integrations.torch (PyTorch)."""
