"""Earth embeddings: chip-grid embeddings of scenes, the GeoParquet store, similarity search."""
