"""Reading a DynamoDB (Local) stream the way Lambda's event source mapping and EventBridge Pipes do."""

from __future__ import annotations

from typing import Any


class StreamReader:
    """Follows every shard of a table's stream; ``poll()`` returns the records that arrived since the last call."""

    def __init__(self, streams_client: Any, stream_arn: str, *, from_start: bool = True) -> None:
        self.client = streams_client
        self.stream_arn = stream_arn
        self.iterator_type = "TRIM_HORIZON" if from_start else "LATEST"
        self._iterators: dict[str, str | None] = {}

    def poll(self) -> list[dict[str, Any]]:
        """New records of all shards, in shard order."""
        description = self.client.describe_stream(StreamArn=self.stream_arn)["StreamDescription"]
        for shard in description["Shards"]:
            shard_id = shard["ShardId"]
            if shard_id not in self._iterators:
                self._iterators[shard_id] = self.client.get_shard_iterator(
                    StreamArn=self.stream_arn, ShardId=shard_id, ShardIteratorType=self.iterator_type
                )["ShardIterator"]
        records: list[dict[str, Any]] = []
        for shard_id, iterator in list(self._iterators.items()):
            while iterator:
                page = self.client.get_records(ShardIterator=iterator, Limit=1000)
                records.extend(page.get("Records", []))
                iterator = page.get("NextShardIterator")
                if not page.get("Records"):
                    break
            self._iterators[shard_id] = iterator
        return records
