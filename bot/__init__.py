"""Steward's core: canonical events and actions, runtime, storage, plugin API and CLI."""
