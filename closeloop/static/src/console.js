// Staff console (board, live updates, bulk actions, shortcuts): filled below.
