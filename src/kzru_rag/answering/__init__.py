"""Answering: cited answers (`assistant`) from quoted sentences (`quotes`) or an LLM (`llm`), follow-up questions
made self-contained (`followups`), and how sure an answer is (`confidence`)."""
