"""Lambda entry points: the SQS writer, the HTTP reader and the deploy-time bootstrap."""
