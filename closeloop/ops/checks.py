"""The project's own `closeloop check` checks (filled in a later slice)."""
