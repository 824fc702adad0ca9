"""The portal's foundations: settings, the Portal context and its caches, the database (engine, sessions,
Alembic migrations), ORM models, encrypted storage, stored states and the JSON error shape."""
