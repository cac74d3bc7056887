"""Web plumbing shared by every transport: health checks, headers, pages."""
