"""The broker: a selectors loop, API handlers and the state they share."""
