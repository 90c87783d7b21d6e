"""ESP+ account plans: goal, value proposition, CSFs, objectives/actions, reviews, the three core tasks."""
