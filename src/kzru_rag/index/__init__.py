"""The index: FAISS vectors, chunk records, documents, sentence vectors and terms, and `manifest.json`.

A build writes a complete index into a temporary folder beside the target and then swaps it in with one rename, so
a failed or interrupted build never leaves a half-written index: readers see the old index or the new one. With a
Milvus store (`kzru_rag.stores`) the folder holds only the manifest and the data lives in Milvus collections,
swapped in by an alias (`kzru_rag.stores.milvus`).

`build` chunks, embeds (`embed`) and writes an index; `load` reads one back as a `loaded.LoadedIndex`. The folder's
files are named in `layout` and written and read by `files`, swapped in by `swap`; `manifest` records what an index
was built from, `settings` how the retriever scores, `sentences` the sentence units and `vector_index` the FAISS
index kinds.
"""

from .build import build_index, index_documents
from .layout import INDEX_FILES, MANIFEST, REBUILD_HINT, default_index_path
from .load import StaleIndexWarning, load_index
from .loaded import LoadedIndex
from .manifest import IndexManifest, write_confidence
from .sentences import SentenceIndex
from .settings import ANSWER_TYPE_POOL, TYPED_KINDS, RetrievalSettings
from .vector_index import HNSW_EF_CONSTRUCTION, HNSW_EF_SEARCH, HNSW_M

__all__ = [
    "ANSWER_TYPE_POOL",
    "HNSW_EF_CONSTRUCTION",
    "HNSW_EF_SEARCH",
    "HNSW_M",
    "INDEX_FILES",
    "MANIFEST",
    "REBUILD_HINT",
    "TYPED_KINDS",
    "IndexManifest",
    "LoadedIndex",
    "RetrievalSettings",
    "SentenceIndex",
    "StaleIndexWarning",
    "build_index",
    "default_index_path",
    "index_documents",
    "load_index",
    "write_confidence",
]
