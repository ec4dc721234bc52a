"""closeloop: a self-hosted work order platform."""

__version__ = "0.1.0"
