"""Who signs in: staff users with their roles, and patients' portal accounts."""
