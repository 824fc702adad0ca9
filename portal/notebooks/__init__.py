"""Parameterized notebook runs: the catalog, queued and executed runs (papermill), their files and HTML,
access, and the command line."""
