"""The one Powertools Tracer of the runtime (a no-op when tracing is disabled, as in tests and local mode)."""

from aws_lambda_powertools import Tracer

tracer = Tracer()
