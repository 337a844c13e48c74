"""Entry points beside Chalice: the WSGI app, the jobs, the CLI, and the dev tools."""
