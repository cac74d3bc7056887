"""CSV exports from CRMs (inquiries / admissions, communications), through a mapping file."""
