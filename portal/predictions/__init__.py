"""Uploads and prediction runs: validation and storage, execution in chunks, access checks, exports,
one sample's explanation, example files and projections."""
