"""The clinic itself: organizations, locations and care teams."""
