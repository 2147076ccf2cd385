"""Earth embeddings: chip-grid embeddings of scenes, the GeoParquet store, embedding-field COGs, products."""

from eokit.embed.store import (
    EmbeddingStore,
    quantize_int8,
    read_embeddings,
    unit_int8,
    write_embeddings,
)

__all__ = [
    "EmbeddingStore",
    "quantize_int8",
    "read_embeddings",
    "unit_int8",
    "write_embeddings",
]
