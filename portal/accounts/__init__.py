"""Who may do what: users, passwords, sign-in (local), API keys, the permission table, the audit trail."""
