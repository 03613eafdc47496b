"""The model names the OpenAI-compatible routes answer to, and what a request without max_tokens gets
(ORCH-1062, ORCH-1066, ORCH-1067)."""

from __future__ import annotations

from orchestrator_core.errors import ModelNotFound

from ..services.replicas import ReplicaRegistry


class ModelCatalog:
    """Reads the registered replicas: every name of their models, and the context a model offers."""

    def __init__(
        self, replicas: ReplicaRegistry, max_tokens_limit: int, default_max_tokens: int | None
    ) -> None:
        self._replicas = replicas
        self._limit = max_tokens_limit
        self._default = default_max_tokens

    def names(self) -> list[str]:
        """Each model_ref and each configured name of a registered replica's model, once, sorted; the
        name an engine reports also asks for its model but is not listed (for llama-server it is the
        model file's name)."""
        names: set[str] = set()
        for replica in self._replicas.all():
            names.add(replica.spec.model_ref)
            names.update(self._replicas.model_names(replica, engine_name=False))
        return sorted(names)

    def max_tokens_for(self, model: str) -> int:
        """The max_tokens of a request that gives none: the configured default, else the rest of the
        model's context (its replicas' largest ctx_max) capped by the limit; the engine stops at the end
        of its context. A model no registered replica serves is ModelNotFound (not retriable)."""
        serving = [view.ctx_max for view in self._replicas.views() if view.serves_model(model)]
        if not serving:
            raise ModelNotFound(
                f"model {model!r}: no registered replica serves it (GET /v1/models lists the names)"
            )
        if self._default is not None:
            return self._default
        return min(self._limit, max(serving) or self._limit)
