"""Employee lifecycle service: people, organisation, signals and the stage engine."""
