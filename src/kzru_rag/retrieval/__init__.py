"""Retrieval: a question (text or an analysed `schema.Query`) in, ranked cited passages out (`retriever`), with the
word bridge for questions that are not in Russian (`bridge`), and what the index tells the confidence about a
question beyond the passages' scores (`Retriever.evidence`)."""
