"""Who: the weighted segmentation policy, tiers with reasons, and overrides."""
