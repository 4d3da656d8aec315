"""Plumbing below every app: no models, no imports of the project's apps."""
