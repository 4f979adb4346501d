"""Reusable L3 constructs with typed, keyword-only props and secure defaults."""
