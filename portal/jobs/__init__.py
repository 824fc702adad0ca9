"""Background jobs: the callback managers (diskcache, Celery), register_job (a page's background run) and
run-state changes shared by prediction and notebook runs."""
