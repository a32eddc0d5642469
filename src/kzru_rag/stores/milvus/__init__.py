"""An index in Milvus collections (Milvus Lite in one local file, or a Milvus server or cluster by URL).

One build is one *generation* of five collections (`layout`); a build writes a new generation and then moves the
index's alias to it in one step, so readers see the old index or the new one (`build`). A loaded index holds only
the manifest: each query asks Milvus for what it reads (candidate passages by ANN search, the rows of those chunks
and their sentence units by id, term statistics, the bridge words nearest a foreign word, a document when a hit
cites it), and small per-process LRU caches keep recent rows (`load`, `views`, `cache`; see docs/scaling.md). A
rebuild reads the whole index back (`read(..., whole=True)`) to reuse its vectors. `client` holds the process's
connections and turns Milvus failures into errors naming the URI and the fix.
"""

from kzru_rag.stores.milvus.build import write
from kzru_rag.stores.milvus.client import connect, forget
from kzru_rag.stores.milvus.layout import collection_name
from kzru_rag.stores.milvus.load import read
from kzru_rag.stores.milvus.views import Column, PassageVectors

__all__ = ["Column", "PassageVectors", "collection_name", "connect", "forget", "read", "write"]
