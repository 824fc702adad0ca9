"""Data at rest over time: retention (purge what is older than settings.retention_days), erasure (one
sample out of every stored upload and result; a user's own uploads and runs), and their commands."""
