"""Data exports: the field catalog, request validation, and streaming from `COPY … TO STDOUT`."""
