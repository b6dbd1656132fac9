"""Handler code deployed to Lambda and run by the local mode.

Nothing in this package imports aws-cdk-lib: it is plain Python, testable on its own. Imports inside it are relative so
the package works both as `cached_booking_api.runtime` and inside a Lambda asset.
"""
