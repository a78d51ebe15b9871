"""The replayer: raw events that landed in S3, fired again into any environment.

source.py     an object as Firehose wrote it (plain or gzip), streamed line by line
transform.py  time shift, session-id rewrite per salt and copy, sampling by session
targets.py    a raw stream (the ingest service's own sink: aggregation, retries) or an ingest URL
settings.py   the Lambda's environment, read and written here
replay.py     one object through the transform into every target
handler.py    the Lambda: S3 object-created events (EventBridge) -> every enabled target
history.py    python -m runtime.replay: objects of a prefix in time order, paced by event time
"""
