"""The Haiku protocol of the real-model release gate (ORCH-9010): challenge, prompt, verdict, measurement."""
