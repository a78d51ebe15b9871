"""The reconciler: sessions whose player moved between regions mid-play, made whole from the buckets.

moves.py is the rule (plain Python, tested without AWS); buckets.py reads a region's
buckets; reconcile.py is one region's pass.
"""
