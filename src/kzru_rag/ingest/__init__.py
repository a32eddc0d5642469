"""Documents in: files read by format (`readers`), documents with their pages and titles (`documents`), and
exact-offset chunks (`chunking`)."""
