"""The one access layer: who is asking (principal), what they may see (policy, masks,
row scope), and the audit trail of what they saw. Every transport goes through it."""
