"""closeloop's SQLite backend: Django's, with write transactions that queue on a file lock."""
