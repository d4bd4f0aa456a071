"""The dialogue runtime: trackers, flows, repair, fallback and escalation."""
