"""The session writer: a Lambda on each region's session stream that writes session records to the session store.

records.py reads Kinesis records into session records and maps them to Timestream
rows (pure); store.py is the interface the handler writes through; timestream.py is
the Timestream for LiveAnalytics implementation; handler.py is the Lambda glue
(powertools batch processing, logs, metrics).
"""
