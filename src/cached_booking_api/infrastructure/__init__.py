"""The CDK constructs: ``CachedSearchApi`` (``construct.py``) and one module per concern it assembles.

Import the public classes from the package root (``from cached_booking_api import CachedSearchApi``); this package
imports aws-cdk-lib, which the runtime, the local mode and the tools never need.
"""
