"""The daemon's services: task records, admission, dispatch, replicas, sessions, metrics, logs."""
