"""Stream processors: faust agents that validate, store and track liveness."""
