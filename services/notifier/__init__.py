"""The notifier: nudges for silent mentorships, unanswered proposals, missing
feedback and goal check-ins, on durable timers, in people's own hours."""
