"""Earth embeddings: chip-grid embeddings of scenes, the GeoParquet store, embedding-field COGs, products."""

from eokit.embed.model import Embedder, as_embedder
from eokit.embed.scene import ChipGrid, EmbedOptions, EmbedResult, concat_stores, embed_scene
from eokit.embed.store import (
    EmbeddingStore,
    quantize_int8,
    read_embeddings,
    unit_int8,
    write_embeddings,
)

__all__ = [
    "ChipGrid",
    "EmbedOptions",
    "EmbedResult",
    "Embedder",
    "EmbeddingStore",
    "as_embedder",
    "concat_stores",
    "embed_scene",
    "quantize_int8",
    "read_embeddings",
    "unit_int8",
    "write_embeddings",
]
