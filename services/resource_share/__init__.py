"""Resource sharing service: shared assets, experts and relationships across the group (and the MCI support desk)."""
