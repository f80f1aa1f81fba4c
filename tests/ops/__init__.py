"""Operations: deployment artefacts, metrics, TLS, forwarded headers, docs, status and bootstrap."""
