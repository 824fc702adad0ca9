"""What gunicorn runs: `gunicorn portal.wsgi:server`. Settings come from the environment."""
from portal.app import create_app

app = create_app()
server = app.server
