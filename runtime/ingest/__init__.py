"""The ingest service: EPAS events over HTTP into the raw Kinesis stream, acknowledged when durable."""
