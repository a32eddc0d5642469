"""Answering: cited answers (`assistant`) from the sentences chosen to quote (`extractive`, made to stand alone by
`quotes`) or an LLM (`llm`, its citation markers checked by `citations`), follow-up questions made self-contained
(`followups`), how sure an answer is (`confidence`), and what the assistant says in its own words (`wording`)."""
