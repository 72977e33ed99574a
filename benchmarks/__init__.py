"""Benchmarks of r1v4 against the floor (plain httpx) and the peers a user would otherwise pick
(langchain-openai's ``ChatOpenAI``, LlamaIndex's ``OpenAILike``). Run ``python -m benchmarks``."""
