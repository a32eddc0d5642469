"""The FAISS store: an index as files in its folder (the default)."""
