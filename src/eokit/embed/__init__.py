"""Earth embeddings: chip-grid embeddings of scenes, the GeoParquet store, embedding-field COGs, products."""

from eokit.embed.model import Embedder, as_embedder
from eokit.embed.products import EmbeddingField, read_clay, read_field, read_majortom
from eokit.embed.scene import (
    ChipGrid,
    EmbedOptions,
    EmbedResult,
    concat_stores,
    embed_scene,
    embed_scenes,
    embed_split,
)
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
    "EmbeddingField",
    "EmbeddingStore",
    "as_embedder",
    "concat_stores",
    "embed_scene",
    "embed_scenes",
    "embed_split",
    "quantize_int8",
    "read_clay",
    "read_embeddings",
    "read_field",
    "read_majortom",
    "unit_int8",
    "write_embeddings",
]
