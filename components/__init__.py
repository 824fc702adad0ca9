"""Reusable pieces of the portal: figures and table rows built from a model version's metadata."""
