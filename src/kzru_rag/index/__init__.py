"""Making and opening an index: `build` streams the documents through `pipeline` (read ahead, chunked and embedded
one document a batch), embeds (`embed`) what the current index lacks, reports `progress`, and writes them to a
store, swapped in whole (`swap`), so readers see the old index or the new one; `child` runs a build in a child
process; `load` opens one.
"""

from kzru_rag.index.build import build_index, index_documents
from kzru_rag.index.load import StaleIndexWarning, load_index

__all__ = ["StaleIndexWarning", "build_index", "index_documents", "load_index"]
