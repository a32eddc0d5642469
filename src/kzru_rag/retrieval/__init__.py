"""Retrieval: a question in, ranked cited passages out (`retriever`), with the word bridge for questions that are
not in Russian (`bridge`)."""
