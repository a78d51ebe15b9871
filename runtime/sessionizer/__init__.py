"""The sessionizer: EPAS raw events -> playback sessions with QoE metrics, and late events.

playback.py and session.py are plain Python (tested without Flink); job.py is the
PyFlink adapter; config.py reads Managed Flink's application properties.
"""
