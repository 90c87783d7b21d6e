"""TAS+ opportunity service: opportunities, the solution catalogue and (later) assignment."""
