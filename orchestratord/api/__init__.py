"""One FastAPI router per feature of the OrchQueue v1 data plane."""
