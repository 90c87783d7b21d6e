"""Signals: dated facts about each employee's work (from events and back-fill)
and the set-based SQL that turns them into signals for any `as_of` date."""
