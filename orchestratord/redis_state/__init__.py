"""The shared-state backend on Redis (or Valkey): the state several orchestratord processes share, each
piece decided atomically by a Lua script next to the Python that calls it."""
