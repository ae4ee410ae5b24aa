"""GET /v1/models in the OpenAI shape, so chat UIs that list models first can connect."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel

from qa.errors import NotFoundError

#: The one model qa offers: what `model` in /v1/chat/completions may name.
MODEL_ID = "qa"
#: Fixed, so that listings do not change between restarts (2021-07-06, the seeds' date).
CREATED = 1625529600

router = APIRouter(prefix="/v1", tags=["openai"])


class Model(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[Model]


def _model() -> Model:
    return Model(id=MODEL_ID, created=CREATED, owned_by="qa")


@router.get("/models", response_model=ModelList)
def list_models() -> ModelList:
    """The models this server answers as (one: ``qa``)."""
    return ModelList(data=[_model()])


@router.get("/models/{model_id:path}", response_model=Model)
def get_model(model_id: str) -> Model:
    """One model by id; 404 for any other id."""
    if model_id != MODEL_ID:
        raise NotFoundError(f"no model {model_id!r}; this server offers {MODEL_ID!r}")
    return _model()
