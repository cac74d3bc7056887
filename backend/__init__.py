"""patient360: the unified patient record and the services around it."""
