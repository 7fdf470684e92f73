"""Code the Lambda functions run: a small PostgreSQL connection library and the handlers."""
