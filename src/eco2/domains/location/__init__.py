"""location: zero-waste shops and recycling-for-reward points on the map."""
