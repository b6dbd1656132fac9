"""``Token.is_unresolved`` without a round trip to aws-cdk-lib's Node process where Python already knows the answer.

aws-cdk-lib encodes a token in a string as ``${Token[...]}`` (``#{Token[...]}`` inside an encoded list) and as a
number as a double around -1.89e+289; a literal string without ``Token[`` and a number of ordinary size are never
tokens. Every other value (a list, an object, a suspect string or number) is asked of aws-cdk-lib, as before.
"""

from __future__ import annotations

from aws_cdk import Token

#: Below this magnitude a number is a literal (aws-cdk-lib's number tokens are about -1.89e+289).
_NUMBER_TOKEN_MAGNITUDE = 1e200


def unresolved(value: object) -> bool:
    """Whether ``value`` is a token (known at deploy time only), exactly as ``Token.is_unresolved`` answers."""
    if value is None or isinstance(value, bool):
        return False
    if isinstance(value, str) and "Token[" not in value:
        return False
    if isinstance(value, int | float) and abs(value) < _NUMBER_TOKEN_MAGNITUDE:
        return False
    return bool(Token.is_unresolved(value))
