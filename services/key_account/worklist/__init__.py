"""Cross-plan work lists: what a salesperson has to do across every plan they
may see (due actions, open incubation items, relationship gaps), one query
each, instead of walking plan by plan."""
