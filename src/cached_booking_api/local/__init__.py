"""Local mode: run the real handlers on one machine against redis-server and Amazon's DynamoDB Local."""
