"""The TAS plan of an opportunity: sections, completeness, warnings."""
