"""Where an index lives and what it holds.

An index is a manifest (`manifest`: what it was built from, with its `settings` and confidence model) and the data a
`loaded.LoadedIndex` gives the retriever: chunks, documents, passage vectors (`vectors`), sentence units
(`sentences`) and term statistics (`terms`). A store keeps that data (`base.Store`): the FAISS files in the index
folder (`faiss`, the default) or Milvus collections (`milvus`), named by a spec (`spec`) and found by entry point.
`layout` names the folder's files.
"""
